// SqliteStore: the store.kind "sqlite" ResourceStore (contract in resource_store.h).
//
// One connection, WAL, synchronous=NORMAL, busy_timeout plus a bounded retry loop on
// SQLITE_BUSY/SQLITE_LOCKED so an outside reader or a short outside writer never fails a write.
// Tables ("<Type>": rowid, id, payer, member_key, tx_time, job_id, json + UNIQUE (payer, id)) are
// created on the first Begin() of a type; each type's upsert is prepared once and reused.
//
// All writers share one open transaction, committed every `batch_rows` rows or `batch_bytes`
// bytes and at every Commit() (which therefore also makes other writers' rows durable: every row
// is an idempotent upsert, so this is harmless). Abort() rolls back the open transaction only when
// it holds nothing but the aborting writer's rows; rows of earlier batches stay (a re-download
// upserts them again).
//
// Errors: SQLITE_FULL or an I/O error with ENOSPC -> kDiskFull; other failures kIo with the SQLite
// message and the table name, never row content. Threading: one thread at a time; the store must
// outlive its writers.
//
// Writer thread (Tuning::writer_thread, on by default): Put() only copies the row into a
// bounded double buffer (row_writer_thread.h) and a thread of the store's own runs the upserts and
// the batch commits (with their WAL checkpoints), so the network thread goes on reading. Every
// other entry point first waits for that thread to finish what was queued (Quiesce), then uses
// the connection itself, so SQLite is still used by one thread at a time; Commit() therefore
// returns only once the file's rows are committed, as before. An upsert error is reported to its
// own writer (by its next Put() or its Commit()), never to another.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/resource_store.h"
#include "store/row_writer_thread.h"

namespace p2p::store {

class SqliteStore final : public ResourceStore {
 public:
  struct Tuning {
    int64_t batch_rows = 4096;      // commit the shared transaction after this many rows...
    int64_t batch_bytes = 8 << 20;  // ...or this many bytes of JSON, whichever comes first
    int busy_timeout_ms = 5000;     // sqlite3_busy_timeout per attempt
    int busy_retries = 60;          // extra attempts after a busy timeout before kBusy
    int64_t max_page_count = 0;     // >0: PRAGMA max_page_count (tests simulate a full disk)
    // >0: PRAGMA page_size for a new database (an existing one keeps its own). Kilobyte rows
    // leave a quarter of each 4 KiB page empty and cost one pwrite/pread per page; 16 KiB pages
    // upsert them ~1.5x faster here (bench/sqlite_floor --page-size; its floor uses the same).
    int page_size = 16384;
    int cache_kib = 0;  // >0: PRAGMA cache_size=-cache_kib (SQLite's default is 2000 KiB)
    bool writer_thread = true;      // upserts on a thread of the store's own (see above)...
    int64_t handoff_bytes = 1 << 20;  // ...handed over in batches of this many bytes (two in
    int64_t handoff_rows = 1024;      // memory at most) or rows, whichever comes first
  };

  // Opens (creating 0600) the database at `path`.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, const Tuning& tuning);
  ~SqliteStore() override;

  Result<std::unique_ptr<FileWriter>> Begin(const FileContext& ctx) override;
  Result<void> Recover(const std::map<std::string, StoreMark>& committed,
                       const std::set<int64_t>& staging_jobs) override;
  Result<void> LockExclusive() override { return Ok(); }
  Result<std::vector<CompactedType>> Compact(
      const std::function<Result<void>(const StoreMark&)>& record) override;
  Result<void> Scan(std::string_view type,
                    const std::function<void(const StoredResource&)>& fn) override;
  Result<std::map<std::string, int64_t>> CountByType() override;
  // Defined in store_delete.cpp.
  Result<DeleteOutcome> Delete(std::string_view payer, int64_t job_id,
                               const std::vector<ResourceRef>& refs) override;
  Result<DeleteOutcome> PurgeMember(std::string_view payer, std::string_view member_key) override;

 private:
  friend class SqliteFileWriter;
  struct Table;

  SqliteStore(sqlite3* db, std::string path, const Tuning& tuning);
  Result<void> Init();
  Result<Table*> TableFor(const std::string& type);
  // `member_key` overrides ctx.member_key when not empty (FileWriter::PutFor).
  Result<void> Upsert(Table& t, const FileContext& ctx, const void* writer, std::string_view id,
                      std::string_view json, std::string_view member_key = {});
  // Runs on the writer thread when there is one: what Upsert() queued.
  Result<void> UpsertNow(Table& t, const FileContext& ctx, const void* writer,
                         std::string_view id, std::string_view json,
                         std::string_view member_key = {});
  // Waits until the writer thread has applied everything queued; then returns the upsert error
  // recorded against `writer` (if not null and there is one). No-op without a writer thread.
  Result<void> Quiesce(const void* writer = nullptr);
  // Quiesce(), then CommitNow().
  Result<void> CommitOpen(std::string_view what);
  Result<void> CommitNow(std::string_view what);
  void AbortWriter(const void* writer);
  Result<void> Exec(const char* sql, std::string_view what);
  // sqlite3_step with the busy retry loop; resets `stmt` before a retry.
  int Step(sqlite3_stmt* stmt);
  Error SqlError(int rc, std::string_view what) const;
  void FixWalModes();
  // store_delete.cpp: true when table "<type>" exists.
  Result<bool> HasTable(std::string_view type);
  // store_delete.cpp: in one transaction, for each (type, key) of `type_keys` deletes the rows
  // of `payer` whose `column` ("id" or "member_key") is key; the number of rows deleted.
  Result<int64_t> DeleteRows(std::string_view payer, std::string_view column,
                             const std::vector<std::pair<std::string, std::string>>& type_keys);

  sqlite3* db_;
  std::string path_;
  Tuning tuning_;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  std::map<std::string, std::unique_ptr<Table>, std::less<>> tables_;
  bool in_txn_ = false;
  int64_t txn_rows_ = 0, txn_bytes_ = 0;
  const void* txn_writer_ = nullptr;  // the only writer with rows in the open transaction...
  bool txn_shared_ = false;           // ...unless several have
  bool wal_modes_fixed_ = false;
  std::unique_ptr<RowWriterThread> rows_;  // Tuning::writer_thread; the destructor stops it first
};

}  // namespace p2p::store
