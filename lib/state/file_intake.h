// Streaming intake of one member source file into the state DB, in committed batches.
//   Open() starts the intake of a file or resumes it after a crash: the DB remembers the file's
//   identity (size, mtime) and the last line whose row is committed (source_intake); a file of
//   the same name with another identity starts over. Rows up to done_line() are already in the
//   DB and must be skipped by the caller; the duplicate check (FirstLine) holds for the whole
//   file across restarts because the keys are committed with their batch (source_keys).
//   FirstLine/Add/Commit open a transaction lazily; Commit(line) commits the batch with the
//   progress and the batch's lifecycle rows, so a crash at any instant loses no committed row and
//   repeats none. Finish() records the file in source_files (as StateDb::TakeIn did) and drops
//   its progress; DropKeys() forgets its keys once the file has been moved to processed/.
//   A file already in source_files (a crash between that commit and the move) opens with
//   taken() true and done_line() past every line: nothing is inserted again.
//
// Ownership: borrows the StateDb, which must outlive it. Threading: the daemon's loop thread.
// Every fallible call returns the SQLite error as a Result; a failed batch is rolled back.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "state/lifecycle_db.h"
#include "state/state_db.h"

namespace p2p::state {

class FileIntake {
 public:
  static Result<std::unique_ptr<FileIntake>> Open(StateDb& db, const std::string& name,
                                                  int64_t size, int64_t mtime_ns);

  bool taken() const { return taken_; }
  int64_t done_line() const { return done_line_; }
  // Counts over the whole file, committed batches of earlier runs included.
  const IntakeCounts& counts() const { return counts_; }

  // The line of the first row with `key` in this file, or `line` after remembering it.
  Result<uint64_t> FirstLine(const std::string& key, uint64_t line);
  // Inserts the member unless an active or complete job exists (StateDb::TakeIn's rule).
  Result<void> Add(const NewMember& member, int64_t now_ms);
  // Commits the open batch with `lifecycle` and the progress "rows through `line` done".
  Result<void> Commit(int64_t line, const std::vector<LifecycleIntake>& lifecycle);
  // Records the file as taken (rows_ok = inserted + already known) and drops its progress.
  Result<void> Finish(int rows_bad, int64_t now_ms);
  // Forgets the file's duplicate-check keys (after it was moved out of the inbox).
  static Result<void> DropKeys(StateDb& db, const std::string& name);

 private:
  FileIntake(StateDb& db, std::string name) : db_(db), name_(std::move(name)) {}
  Result<void> BeginBatch();

  StateDb& db_;
  std::string name_;
  int64_t size_ = 0, mtime_ns_ = 0;
  bool taken_ = false;
  int64_t done_line_ = 0;
  IntakeCounts counts_;
  std::optional<Transaction> tx_;
  Stmt find_key_, insert_key_;
  std::string key_buf_;  // the key as stored (FirstLine)
};

}  // namespace p2p::state
