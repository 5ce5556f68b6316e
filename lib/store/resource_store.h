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

#include "core/result.h"
#include "ops/options.h"

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
};

class FileWriter {
 public:
  virtual ~FileWriter() = default;
  // One checked resource: `id` its FHIR id, `line` the whole JSON object (no newline).
  virtual Result<void> Put(std::string_view id, std::string_view line) = 0;
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

  // Calls `fn` for every stored resource of `type` (tests, summaries). Order unspecified.
  virtual Result<void> Scan(std::string_view type,
                            const std::function<void(const StoredResource&)>& fn) = 0;

  // Resource counts per type (distinct (payer, id) for sqlite; lines for ndjson).
  virtual Result<std::map<std::string, int64_t>> CountByType() = 0;
};

}  // namespace p2p::store
