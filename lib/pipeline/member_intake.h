// Takes one member file of the directory source into the state DB in constant memory: the file
// is streamed (DirectorySource::Visit), its good rows inserted in committed batches of
// `batch_rows` (state/file_intake.h), each batch with its lifecycle rows and the progress "rows
// through line L done". A crash at any instant resumes after the last committed batch: no row
// inserted twice, none lost. Revocations are applied once the whole file is in (a revocation may
// come before the row it revokes), then the file is recorded as taken, moved to processed/ with
// its .errors (DirectorySource::Finish), and its duplicate-check keys are dropped.
//
// Memory: one batch of lifecycle rows, the file's problems and its revocations (both usually
// few), SQLite's page cache, and a few MiB of the mapped file. Threading: the loop thread.
// Returns the first state DB or file system error; the file then stays where it is (the claim
// directory, see source/directory_source.h) and is taken again, resuming, on a later pass.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "config/options.h"
#include "core/result.h"
#include "source/directory_source.h"
#include "state/state_db.h"

namespace p2p::pipeline {

constexpr size_t kIntakeBatchRows = 10000;

struct FileIntakeResult {
  state::IntakeCounts counts;  // the whole file's, batches of an interrupted run included
  size_t problems = 0;
};

struct FileIntakeSettings {
  size_t batch_rows = kIntakeBatchRows;
  // Called after each committed batch with its last line; an error stops the intake there (the
  // tests' way to crash between two batches).
  std::function<Result<void>(int64_t line)> after_batch;
};

Result<FileIntakeResult> TakeInFile(state::StateDb& db, const source::DirectorySource& source,
                                    const std::filesystem::path& file,
                                    const ConsentOptions& consent, int64_t now_ms,
                                    const FileIntakeSettings& settings = {});

// The rows of one member file, streamed: runs the parse with the visitor it is given
// (DirectorySource::Visit, or source::VisitMemberCsv / VisitMemberNdjson over a file's text).
using RowStream = std::function<Result<void>(const source::RowVisitor&)>;

// TakeInFile's work on a file that is not in an inbox (the operator's `enqueue` into a shared
// PostgreSQL state): the rows of file `name` (its identity `id` decides whether an interrupted
// intake resumes) in committed batches, the revocations, then the file recorded as taken and its
// duplicate-check keys dropped. The row problems go to `problems` when given. Same errors and
// memory as TakeInFile.
Result<FileIntakeResult> TakeInRows(state::StateDb& db, const std::string& name,
                                    const source::MemberFileIdentity& id, const RowStream& rows,
                                    const ConsentOptions& consent, int64_t now_ms,
                                    const FileIntakeSettings& settings = {},
                                    std::vector<RowProblem>* problems = nullptr);

}  // namespace p2p::pipeline
