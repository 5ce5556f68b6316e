// Per-type resource stores (DESIGN.md "Contracts"): where checked NDJSON lines land.
//
//  * SqliteStore (store.kind: sqlite): one rowid table per resource type, named exactly as the
//    type ("Patient"), columns id, payer, member_key, tx_time, job_id, json, with a UNIQUE index
//    on (payer, id); a resource seen again replaces its row (upsert), never duplicates. Writes are
//    batched in transactions; since every write is an idempotent upsert, a crash mid-file only
//    means the file is downloaded again.
//  * NdjsonStore (store.kind: ndjson): <Type>.ndjson per type under store.path holding only
//    complete lines up to its committed end, plus <Type>.index (one line per committed file:
//    start and end byte offsets, payer, member_key, transaction time, job id, line count) for
//    provenance. A file's lines are written past the committed end of <Type>.ndjson (or, while
//    another file of the type is being written, to a temporary file under store.path/.tmp,
//    appended at Commit()) and made durable at Commit(); the new end offset is returned in the
//    StoreMark, which the caller records in the state DB in the same transaction as the file's
//    "done" mark. At start, Recover() truncates every <Type>.ndjson
//    (and .index) to its recorded offset, so an append that was not recorded is undone: no half
//    line, no doubled file. Compact() rewrites each type with one line per (payer, id), last wins.
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
};

// What a commit changed, recorded by the caller with the file's "done" mark.
struct StoreMark {
  std::string type;
  int64_t ndjson_end = -1;  // NdjsonStore: length of <Type>.ndjson after the append; else -1
  int64_t index_end = -1;   // NdjsonStore: length of <Type>.index after the append; else -1
  // NdjsonStore: length of <Type>.deleted (tombstones, see Delete) after a Delete/PurgeMember;
  // -1 when this mark does not say (Begin/Commit marks).
  int64_t deleted_end = -1;
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
  // Makes everything Put() durable. REQUIRES: called at most once, not after Abort().
  virtual Result<StoreMark> Commit() = 0;
  // Drops what is not committed (temporary files removed). Safe to call after a failed Put().
  virtual void Abort() = 0;
};

struct StoredResource {
  std::string_view payer, member_key, id;
};

class ResourceStore {
 public:
  virtual ~ResourceStore() = default;

  // Opens (creating) the store of `options.kind` at `options.path`.
  static Result<std::unique_ptr<ResourceStore>> Open(const StoreOptions& options);

  // Starts writing one downloaded file. `ctx.type` must be a FHIR type name ([A-Z][A-Za-z]{1,63}).
  virtual Result<std::unique_ptr<FileWriter>> Begin(const FileContext& ctx) = 0;

  // NdjsonStore: truncate each type's files to the committed marks (types with no mark: to 0)
  // and remove leftover temporary files. SqliteStore: nothing to undo (returns Ok).
  virtual Result<void> Recover(const std::map<std::string, StoreMark>& committed) = 0;

  // NdjsonStore: one line per (payer, id), last committed wins; returns the new marks, which the
  // caller must record. SqliteStore: no-op, returns an empty map. Offline operation (daemon stopped).
  virtual Result<std::map<std::string, StoreMark>> Compact() = 0;

  // Calls `fn` for every stored resource of `type` (tests, summaries): one call per live
  // (payer, id) in both stores (NdjsonStore: the last committed line wins, tombstoned lines are
  // skipped; a refresh that sends an id again therefore never doubles it). Order unspecified.
  virtual Result<void> Scan(std::string_view type,
                            const std::function<void(const StoredResource&)>& fn) = 0;

  // Resource counts per type: distinct live (payer, id) in both stores (NdjsonStore: from the
  // index alone while a type has no tombstones and no (payer, member_key) was exported twice,
  // else by reading the type).
  virtual Result<std::map<std::string, int64_t>> CountByType() = 0;

  // Deletes the resources `refs` of `payer` (deleted[] files), durably when it returns Ok;
  // refs that are not stored are no error. Ids must be FHIR ids and types FHIR type names
  // (kInvalid otherwise, nothing deleted). SqliteStore: the rows go, `removed` counts them.
  // NdjsonStore: append-only, so each deletion is a tombstone line in <Type>.deleted
  //   "R <ndjson_end> <payer> <id>"
  // meaning "lines of (payer, id) before byte <ndjson_end> of <Type>.ndjson are gone" (a later
  // refresh that stores the id again brings it back); `removed` counts tombstones written. The
  // log follows the commit-mark rules: the new deleted_end comes back in `marks`, the caller
  // records it in the state DB in the transaction that marks the work done, and Recover()
  // truncates <Type>.deleted to it (to 0 without a mark). Scan, CountByType and Compact honour
  // tombstones; Compact applies them and empties the logs (its marks carry deleted_end = 0).
  // Threading: like Begin; no writer of `payer` may be open for the same member (the pipeline
  // applies a job's deleted[] files after its output files).
  virtual Result<DeleteOutcome> Delete(std::string_view payer,
                                       const std::vector<ResourceRef>& refs) = 0;

  // Deletes every resource of `member_key` from `payer` (consent revoked with purge). Sqlite:
  // rows gone (one scan per type table: purges are rare). NdjsonStore: counts the member's live
  // lines per type and writes one tombstone "M <ndjson_end> <payer> <member_key>" for each type
  // that has some; `removed` is that count. Same recording rules as Delete.
  virtual Result<DeleteOutcome> PurgeMember(std::string_view payer,
                                            std::string_view member_key) = 0;
};

}  // namespace p2p::store
