// PgWriter: the connection thread of the PostgreSQL store (postgres_store.h) and the files it
// writes. The caller encodes each resource as one row of PostgreSQL binary COPY data
// (writer tag, member_key, id, resource as jsonb) into the buffer being filled; full buffers,
// commits, aborts and calls are queued, in order, to the thread, which owns the one PgSession:
// it streams the rows into pg_temp.p2p_stage (one COPY per buffer, across files), merges a
// file's rows into its type's table at Commit (and every chunk_bytes), vacuums the staging table
// every chunk_bytes merged (autovacuum never reaches a temporary table: without it the table
// would grow for as long as the session lasts), and runs the calls.
//
// Refused rows: a COPY the server refuses for a row's data (a resource the line checker
// accepts and jsonb cannot hold, e.g. the number 1e-20000) stages none of its rows; its files'
// rows go again, one file per COPY, so that only the file with that resource fails (kInvalid).
//
// Lost sessions: every connection has a generation; a file whose staged rows were in a session
// that is gone fails with kUnavailable (its rows are not in the table: the file is downloaded
// again). A file with nothing staged is not hurt by a reconnect, and a call that finds its
// session dead reconnects and runs again once.
//
// Threading: Add/Commit/Abort/Call are for the store's one caller thread; `done` callbacks and
// Call functions run on the connection thread. Memory: three buffers of handoff_bytes at most
// (Add waits while two are queued).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/options.h"
#include "core/result.h"
#include "store/pg_session.h"
#include "store/resource_store.h"

namespace p2p::store {

struct PgWriterTuning {
  int64_t handoff_bytes = 1 << 20;
  int64_t chunk_bytes = 64LL << 20;
  int64_t reconnect_interval_ms = 1000;
};

// One file being written: shared by its FileWriter (caller thread) and the queued work.
struct PgFile {
  FileContext ctx;
  int64_t tag = 0;  // its rows' tag in the staging table
  // Set by the thread when the file failed: later Adds return an error of this kind at once.
  std::atomic<int> failed_kind{0};
  // Thread only:
  std::optional<Error> error;
  int64_t staged_bytes = 0;  // line bytes staged since the last merge
  int64_t staged_rows = 0;   // buffer segments staged since the last merge (0: nothing staged)
  uint64_t generation = 0;  // the session its staged rows are in
};

class PgWriter {
 public:
  PgWriter(StoreOptions options, PgWriterTuning tuning);
  ~PgWriter();  // finishes the queue (pending commits report), then closes the session
  PgWriter(const PgWriter&) = delete;
  PgWriter& operator=(const PgWriter&) = delete;

  // Connects and prepares the schema now, waiting (Open). Its errors keep their kind; after it,
  // every failure to connect or prepare is kUnavailable.
  Result<int> Connect();
  // One resource of `file` (copied into the buffer). Errors: kInvalid for a resource jsonb cannot
  // hold; the file's earlier failure. May wait while the thread is two buffers behind.
  Result<void> Add(const std::shared_ptr<PgFile>& file, std::string_view member_key,
                   std::string_view id, std::string_view line);
  // Merges the file's rows; `done` (on the thread) gets the file's first error or its mark.
  void Commit(std::shared_ptr<PgFile> file, std::function<void(Result<StoreMark>)> done);
  // Drops the file's staged rows (nothing waits).
  void Abort(std::shared_ptr<PgFile> file);
  // Waits until everything queued has run (commit reports included), without connecting.
  void Drain();
  // Runs `fn` on the thread with the session connected, after everything queued; waits.
  Result<void> Call(const std::function<Result<void>(PgSession&)>& fn);

  const StoreOptions& options() const { return options_; }

 private:
  struct Segment {
    std::shared_ptr<PgFile> file;
    size_t end = 0;  // in the buffer's bytes
    int64_t line_bytes = 0;
  };
  // One segment's rows in the open COPY: a COPY ends with the buffer that holds them.
  struct Piece {
    std::shared_ptr<PgFile> file;
    std::string_view data;
  };
  struct Buffer {
    std::string bytes;
    std::vector<Segment> segments;
  };
  struct Task {
    std::unique_ptr<Buffer> rows;
    std::function<void()> call;
  };

  void Submit();                  // caller: queues the filling buffer
  void Enqueue(Task task);        // caller: queues one task, waking the thread
  void Run();                     // thread
  void ApplyBuffer(Buffer& b);    // thread
  void ApplySegment(const std::shared_ptr<PgFile>& file, std::string_view data,
                    int64_t line_bytes);
  Result<void> EnsureSession();   // thread: connected, prepared, staging table there
  Result<void> StartCopy();
  Result<void> FinishCopy();  // ends the open COPY: its result
  // Ends the open COPY. A COPY refused for a row (kInvalid: a resource jsonb cannot hold) goes
  // again one file at a time (Restage): only that row's file fails. Otherwise its files fail
  // with its error.
  Result<void> EndCopy();
  Result<void> Restage(const std::vector<Piece>& pieces, const Error& refused);
  void DropStaged(PgFile& f);  // deletes the file's staged rows (the session is its own)
  void Merge(PgFile& f);
  void VacuumStaging();           // thread: after every chunk_bytes merged
  void Fail(PgFile& f, Error e);
  void LoseSession();
  void ReturnBuffer(std::unique_ptr<Buffer> b);

  const StoreOptions options_;
  const PgWriterTuning tuning_;

  // Caller thread.
  std::unique_ptr<Buffer> filling_;

  // Thread.
  PgSession session_;
  uint64_t generation_ = 0;
  bool prepared_ = false;  // the schema was prepared once (by the first connection)
  bool opened_ = false;    // Connect() (Open) is done: later connection failures pause writes
  std::atomic<int> schema_version_{0};
  bool copying_ = false;
  std::vector<Piece> copy_pieces_;                    // the rows in the open COPY
  std::set<std::string> tables_;                      // types whose table is known to exist
  int64_t merged_since_vacuum_ = 0;  // line bytes merged since the staging table's last VACUUM
  int64_t last_attempt_ms_ = 0;
  std::optional<Error> last_connect_error_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;         // guarded by mu_
  size_t queued_buffers_ = 0;      // guarded by mu_
  std::vector<std::unique_ptr<Buffer>> spare_;  // guarded by mu_
  bool stop_ = false;              // guarded by mu_
  std::thread thread_;             // last: started once everything above exists
};

}  // namespace p2p::store
