// PostgresStore: the store.kind "postgres" ResourceStore (contract in resource_store.h), for
// plans whose data teams work in PostgreSQL.
//
// Layout: one table per resource type in store.schema, named exactly as the type ("Patient"),
// created on first use by the store migrations' p2p_create_type_table (migrations/postgres-store/):
// payer, id, member_key, tx_time (the export's transactionTime), job_id, received_at, resource
// (JSONB); primary key (payer, id), indexes on member_key and job_id.
//
// Writes: a file's lines go, as PostgreSQL binary COPY data encoded on the caller's thread
// (no JSON parsing: the line checker has checked them), to a connection thread of the store's
// own, which streams them into a session-local staging table (pg_temp.p2p_stage, tagged with the
// writer). Commit merges the writer's staged rows into its type's table in one transaction:
//   INSERT ... SELECT DISTINCT ON (id) ... ON CONFLICT (payer, id) DO UPDATE ...
//   WHERE <table>.tx_time <= EXCLUDED.tx_time
// so a resource sent again replaces its row, the last copy in a file wins, and an older
// export's copy never overwrites a newer one. A big file is merged every Tuning::chunk_bytes as
// well (each chunk its own transaction: a crash between chunks repeats idempotent upserts), and
// the staging table is vacuumed every chunk_bytes merged (nothing else vacuums a temporary table).
// Memory is bounded by Tuning::handoff_bytes (three buffers at most), not by the file.
//
// Event loop: Put() only encodes into a buffer (it waits only when the thread is two buffers
// behind); CommitAsync() reports from the thread, so the daemon's event loop never waits for
// PostgreSQL to merge a file. Delete, PurgeMember, Scan and CountByType run on the thread and
// wait for it (rare operations: deleted[] files, consent purges, summaries).
//
// Failures: a server that cannot be reached, restarts or fails over (PgSession's kUnavailable)
// fails the writers whose staged rows it lost, with kUnavailable (the pipeline pauses downloads
// and retries: ClassifyStorageError); the next use reconnects, at most once per
// Tuning::reconnect_interval_ms (kUnavailable with the last reason in between). Once open, a
// login the server refuses or a missing privilege is kUnavailable too (with its reason): the
// writes pause until an operator fixes it, no job fails for it. A resource PostgreSQL's jsonb
// cannot hold (a \u0000 escape, found before it is sent; a number its numeric cannot hold,
// refused by the server) fails its file with kInvalid, and only that file. Errors name the
// table and the server's message, never row content.
//
// Threading: like every store, one caller thread at a time; the connection thread is internal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.h"
#include "store/resource_store.h"

namespace p2p::store {

class PgWriter;

class PostgresStore final : public ResourceStore {
 public:
  struct Tuning {
    int64_t handoff_bytes = 1 << 20;    // COPY data handed to the thread in buffers of this size
    int64_t chunk_bytes = 64LL << 20;   // a file's staged rows are merged every this many bytes
    int64_t reconnect_interval_ms = 1000;  // at most one connection attempt this often
  };

  // Opens the store: connects, creates/migrates the schema (PgSession::PrepareSchema). A server
  // that cannot be reached is not an error here (kUnavailable comes from the writes, which
  // retry); a refused login, a missing privilege or a bad dsn is.
  static Result<std::unique_ptr<PostgresStore>> Open(const StoreOptions& options);
  static Result<std::unique_ptr<PostgresStore>> Open(const StoreOptions& options,
                                                     const Tuning& tuning);
  // check-config and probe: connects, checks the schema and its privileges, reports the server
  // version ("PostgreSQL 15.8, schema p2p at store migration 1"). Every failure is an error.
  static Result<std::string> Check(const StoreOptions& options);
  ~PostgresStore() override;

  Result<std::unique_ptr<FileWriter>> Begin(const FileContext& ctx) override;
  Result<void> Recover(const std::map<std::string, StoreMark>& committed,
                       const std::set<int64_t>& staging_jobs) override;
  Result<void> LockExclusive() override { return Ok(); }
  void Quiesce() override;
  Result<std::vector<CompactedType>> Compact(
      const std::function<Result<void>(const StoreMark&)>& record) override;
  Result<void> Scan(std::string_view type,
                    const std::function<void(const StoredResource&)>& fn) override;
  Result<std::map<std::string, int64_t>> CountByType() override;
  Result<DeleteOutcome> Delete(std::string_view payer, int64_t job_id,
                               const std::vector<ResourceRef>& refs) override;
  Result<DeleteOutcome> PurgeMember(std::string_view payer, std::string_view member_key) override;

 private:
  explicit PostgresStore(std::unique_ptr<PgWriter> writer);
  // One DELETE per type table, all in one transaction: `sql` gives the WHERE clause and its
  // parameters for a type, or nullopt to leave the type alone; `removed` counts the rows.
  struct DeleteSql {
    std::string where;
    std::vector<std::string> params;
  };
  Result<DeleteOutcome> DeleteRows(
      std::string_view what,
      const std::function<std::optional<DeleteSql>(const std::string&)>& sql);
  std::unique_ptr<PgWriter> writer_;
  int64_t next_writer_ = 1;
};

}  // namespace p2p::store
