// Per-type resource stores (DESIGN.md "Contracts"): where checked NDJSON lines land.
//
//  * PostgresStore (store.kind: postgres): one table per type in a PostgreSQL schema, resources
//    as JSONB, newest export wins (postgres_store.h).
//  * SqliteStore (store.kind: sqlite): one rowid table per resource type, named exactly as the
//    type ("Patient"), columns id, payer, member_key, tx_time, job_id, json, with a UNIQUE index
//    on (payer, id); a resource seen again replaces its row (upsert), never duplicates. Writes are
//    batched in transactions; since every write is an idempotent upsert, a crash mid-file only
//    means the file is downloaded again. It has nothing to stage: the job hooks are no-ops.
//  * NdjsonStore (store.kind: ndjson): <Type>.ndjson per type under store.path, plus
//    <Type>.index (one line per published range: start and end byte offsets, payer, member_key,
//    transaction time, job id, file index, line count) for provenance. The published part of
//    <Type>.ndjson (up to the last index range) holds finished jobs only: a job's lines join it
//    when the job is published (PublishJob, at its completion), each job's lines of a type as one
//    block, so a reader of it sees a job's lines all at once, never a part of them and never
//    twice (a re-kicked export's lines are dropped, EndJob, not published). Until then a file's
//    lines wait past the published end (one job per type writes there in place, saving a copy of
//    big exports) or in store.path/.staging/<job_id>/ (ndjson_store.h). The published ends come
//    back as StoreMarks, which the caller records in the state DB in the transaction that
//    completes the job. At start, Recover() stages the in-place lines of jobs still downloading,
//    truncates every <Type>.ndjson (and .index, .deleted) to its recorded marks and drops the
//    staging of jobs that are not downloading: an append that was not recorded is undone, no half
//    line, no doubled job. Compact() rewrites each type with one line per (payer, id), last wins.
//
// Files are created 0600, directories 0700. Disk full (ENOSPC / EDQUOT / SQLITE_FULL) and a
// read-only store (EROFS / SQLITE_READONLY; the message then says "read-only" or "Read-only file
// system") -> kDiskFull: the store cannot take writes until an operator acts;
// SQLITE_BUSY from an outside reader is waited out (busy timeout + retry), never returned.
// Threading: one store per process, used from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.h"
#include "core/result.h"

namespace p2p::store {

// Where a downloaded file's resources come from (provenance).
struct FileContext {
  std::string payer;
  std::string member_key;
  int64_t job_id = 0;
  int file_index = 0;
  std::string type;              // resource type of the output entry
  std::string transaction_time;  // the export's transactionTime
  // A cluster's lease on the job (state.kind: postgres), "" when none: a store in the same
  // database as the state (PostgresStore with StoreOptions::state_schema) checks in each commit
  // transaction that the job's row still has this owner and epoch, and commits nothing (kLeaseLost)
  // when another instance took the job.
  std::string lease_owner = {};
  int64_t lease_epoch = 0;
};

// A statement the store runs in the transaction of a file's last commit (PostgresStore with the
// state in the same database: the state's "file done" rows, committed with the file's rows or
// not at all). `$N` placeholders, text parameters.
struct CommitStatement {
  std::string sql;
  std::vector<std::string> params;
};

// What a publication, deletion or compaction changed, recorded by the caller in the state DB
// (the committed ends Recover() gets at the next start). -1: this mark does not say.
struct StoreMark {
  std::string type;
  int64_t ndjson_end = -1;  // NdjsonStore: length of <Type>.ndjson
  int64_t index_end = -1;   // NdjsonStore: length of <Type>.index
  int64_t deleted_end = -1;  // NdjsonStore: length of <Type>.deleted (tombstones, see Delete)
};

// How a job's staged lines end (ResourceStore::EndJob).
enum class JobEnd {
  kRecorded,  // the marks of its PublishJob are committed: the staging goes
  kTakeBack,  // its PublishJob was not recorded: the append is cut back, the staging stays
  kDrop,      // re-kicked, failed or cancelled: the staging goes (an unrecorded publish is cut)
};

// One type rewritten by Compact(): lines (and bytes) of <Type>.ndjson before and after.
struct CompactedType {
  std::string type;
  int64_t lines_before = 0, lines_after = 0;
  int64_t bytes_before = 0, bytes_after = 0;
};

// One resource to delete (a deleted[] file's `request.url` = "Type/id").
struct ResourceRef {
  std::string type;
  std::string id;
};

// What a Delete/PurgeMember changed. `marks` (NdjsonStore: one per type whose tombstone log
// grew, with deleted_end set) must be recorded by the caller like commit marks.
struct DeleteOutcome {
  int64_t removed = 0;
  std::vector<StoreMark> marks;
};

class FileWriter {
 public:
  virtual ~FileWriter() = default;
  // One checked resource: `id` its FHIR id, `line` the whole JSON object (no newline).
  virtual Result<void> Put(std::string_view id, std::string_view line) = 0;
  // Put() for a resource of another member than FileContext::member_key (a Group export file
  // holds several members' resources, pipeline/bulk_match.h): stored with `member_key` as its
  // provenance. SqliteStore: the row's member_key column; NdjsonStore: consecutive lines of one
  // member_key share one <Type>.index range, so the index has one line per run of a member.
  // Same durability, crash and mark rules as Put(). The default refuses (kInternal).
  virtual Result<void> PutFor(std::string_view member_key, std::string_view id,
                              std::string_view line) {
    (void)member_key, (void)id, (void)line;
    return MakeError(ErrorKind::kInternal, "this store cannot attribute resources per member");
  }
  // A run of checked resources without a copy: `lines` is `count` lines, each followed
  // by exactly one "\n", and adds what `count` Put() calls with them would. Only for writers
  // whose TakesBlocks() is true (the default refuses, kInternal). The bytes are written later,
  // from where they are: they must stay unchanged until WaitBlock() with the returned token has
  // returned, or Commit() or Abort() has (token 0: nothing to wait for). Same durability, crash
  // and mark rules as Put(); errors of the late write come from a later call, at the latest
  // Commit().
  virtual bool TakesBlocks() const { return false; }
  virtual Result<uint64_t> PutBlock(std::string_view lines, int64_t count) {
    (void)lines, (void)count;
    return MakeError(ErrorKind::kInternal, "this store takes resources one at a time");
  }
  virtual void WaitBlock(uint64_t token) { (void)token; }
  // Makes everything Put() durable (NdjsonStore: staged for the job, see PublishJob; its mark
  // then says nothing: all -1). REQUIRES: called at most once, not after Abort().
  virtual Result<StoreMark> Commit() = 0;
  // Commit() without waiting, for writers whose CommitsAsync() is true (PostgresStore): `done`
  // is called once, on a thread of the store's own, with what Commit() would return; the writer
  // may be destroyed before. The default commits here and calls `done` at once.
  virtual bool CommitsAsync() const { return false; }
  virtual void CommitAsync(std::function<void(Result<StoreMark>)> done) {
    const auto report = std::move(done);
    report(Commit());
  }
  // Statements to run in the transaction of the final Commit (see CommitStatement). Returns false
  // when this writer cannot (the caller then records the file's end itself, after Commit).
  virtual bool CommitWith(std::vector<CommitStatement>&& statements) {
    (void)statements;
    return false;
  }
  // Drops what is not committed (temporary files removed). Safe to call after a failed Put().
  virtual void Abort() = 0;
};

struct StoredResource {
  std::string_view payer, member_key, id;
};

class ResourceStore {
 public:
  virtual ~ResourceStore() = default;

  // Opens (creating) the store of `options.kind` at `options.path` (postgres: `options.dsn`).
  static Result<std::unique_ptr<ResourceStore>> Open(const StoreOptions& options);

  // Starts writing one downloaded file. `ctx.type` must be a FHIR type name ([A-Z][A-Za-z]{1,63}).
  virtual Result<std::unique_ptr<FileWriter>> Begin(const FileContext& ctx) = 0;

  // NdjsonStore: truncate each type's files to the committed marks (types with no mark: to 0),
  // finish or undo a compaction interrupted after or before its marks were recorded (see
  // Compact), and drop the staging of every job not in `staging_jobs` (the jobs still
  // downloading) and leftover temporary files. SqliteStore: nothing to undo (returns Ok).
  // REQUIRES: LockExclusive() (no other process writes the store).
  virtual Result<void> Recover(const std::map<std::string, StoreMark>& committed,
                               const std::set<int64_t>& staging_jobs) = 0;

  // NdjsonStore: takes the store's lock (store.path/.lock, flock) for the life of this object:
  // the daemon holds it while it runs and `compact` needs it, so the two never meet. kBusy when
  // another process holds it. SqliteStore: Ok (SQLite locks its file itself).
  virtual Result<void> LockExclusive() = 0;

  // Job hooks (pipeline/job_publish.h). A job's lines stay staged until the job completes:
  // PublishJob appends them (NdjsonStore: its lines written in place are indexed where they are,
  // its staged files copied after them by file index with their index ranges, then the job's
  // staged tombstones written, see Delete), synced,
  // and returns one mark per type changed; the caller records them in the transaction that
  // completes the job and then calls EndJob(job_id, kRecorded). If that transaction fails,
  // EndJob(job_id, kTakeBack) cuts the append back; a re-kick, failure or cancel calls
  // EndJob(job_id, kDrop). A job with nothing staged publishes nothing (no marks). Errors:
  // kDiskFull (full or read-only; nothing changed), kIo. REQUIRES: nothing else of the store is
  // used between PublishJob and EndJob. SqliteStore stores at Commit(): no marks, EndJob Ok.
  virtual Result<std::vector<StoreMark>> PublishJob(int64_t job_id) {
    (void)job_id;
    return std::vector<StoreMark>{};
  }
  virtual Result<void> EndJob(int64_t job_id, JobEnd end) {
    (void)job_id, (void)end;
    return Ok();
  }

  // Waits until every CommitAsync() has reported. The daemon calls it when its event loop has
  // stopped, before the loop (where the reports are posted) goes away. Default: nothing to wait.
  virtual void Quiesce() {}

  // NdjsonStore: rewrites each type to one line per (payer, id), last published wins,
  // tombstoned lines dropped, the tombstone log emptied. Per type: the new files are written
  // beside the old ones and synced, a journal names them, `record` gets the new marks
  // (deleted_end 0) and must commit them durably before it returns, then the new files are
  // renamed over the old ones (directory synced) and the journal goes. A kill at any point
  // leaves the old files or the new ones, each complete; Recover() finishes the renames when
  // the new marks were recorded and removes the new files when not. Returns lines and bytes per
  // type. SqliteStore: nothing to do (one row per (payer, id) already), returns none.
  // REQUIRES: LockExclusive() and Recover() first.
  virtual Result<std::vector<CompactedType>> Compact(
      const std::function<Result<void>(const StoreMark&)>& record) = 0;

  // Calls `fn` for every stored resource of `type` (tests, summaries): one call per live
  // (payer, id) in both stores (NdjsonStore: published lines only, the last one wins, tombstoned
  // lines are skipped; a refresh that sends an id again therefore never doubles it). Order
  // unspecified.
  virtual Result<void> Scan(std::string_view type,
                            const std::function<void(const StoredResource&)>& fn) = 0;

  // Resource counts per type: distinct live (payer, id) in both stores (NdjsonStore: from the
  // index alone while a type has no tombstones and no (payer, member_key) was exported twice,
  // else by reading the type).
  virtual Result<std::map<std::string, int64_t>> CountByType() = 0;

  // Deletes the resources `refs` of `payer` (a deleted[] file of job `job_id`), durably when it
  // returns Ok; refs that are not stored are no error. Ids must be FHIR ids and types FHIR type
  // names (kInvalid otherwise, nothing deleted). SqliteStore: the rows go, `removed` counts them.
  // NdjsonStore: append-only, so each deletion is a tombstone line in <Type>.deleted
  //   "R <ndjson_end> <payer> <id>"
  // meaning "lines of (payer, id) before byte <ndjson_end> of <Type>.ndjson are gone" (a later
  // refresh that stores the id again brings it back). With a `job_id` (not 0) the tombstones
  // are staged with the job's lines and written by its PublishJob, after its data, so that they
  // cover the same export's lines (no marks now); with 0 they are written at once. `removed`
  // counts tombstones. The log follows the mark rules: a new deleted_end comes back in `marks`,
  // the caller records it in the state DB in the transaction that marks the work done, and
  // Recover() truncates <Type>.deleted to it (to 0 without a mark). Scan, CountByType and
  // Compact honour tombstones; Compact applies them and empties the logs.
  // Threading: like Begin; no writer of `payer` may be open for the same member (the pipeline
  // applies a job's deleted[] files after its output files).
  virtual Result<DeleteOutcome> Delete(std::string_view payer, int64_t job_id,
                                       const std::vector<ResourceRef>& refs) = 0;

  // Deletes every resource of `member_key` from `payer` (consent revoked with purge). Sqlite:
  // rows gone (one scan per type table: purges are rare). NdjsonStore: counts the member's live
  // lines per type and writes one tombstone "M <ndjson_end> <payer> <member_key>" for each type
  // that has some; `removed` is that count. Same recording rules as Delete.
  virtual Result<DeleteOutcome> PurgeMember(std::string_view payer,
                                            std::string_view member_key) = 0;
};

}  // namespace p2p::store
