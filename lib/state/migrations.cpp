#include "state/migrations.h"

#include "state/sql.h"

namespace p2p::state {

Result<int> ApplyMigrations(Conn* db, const std::vector<Migration>& migrations) {
  if (auto r = Exec(db,
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (datetime('now')))",
                    "create schema_migrations");
      !r) {
    return std::move(r).error();
  }
  auto q = Stmt::Prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!q) return std::move(q).error();
  auto row = q->Step("read schema version");
  if (!row) return std::move(row).error();
  int current = static_cast<int>(q->Int(0));
  q->Reset();

  int newest = migrations.empty() ? 0 : migrations.back().version;
  if (current > newest) {
    return MakeError(ErrorKind::kInvalid,
                     "state database schema version " + std::to_string(current) +
                         " is newer than this p2p-ingestd knows (" + std::to_string(newest) +
                         "); upgrade p2p-ingestd");
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    Transaction tx(db);
    if (auto r = tx.Begin(); !r) return std::move(r).error();
    if (auto r = Exec(db, m.sql, "migration " + m.name); !r) return std::move(r).error();
    auto ins = Stmt::Prepare(db, "INSERT INTO schema_migrations(version, name) VALUES (?1, ?2)");
    if (!ins) return std::move(ins).error();
    ins->Bind(1, static_cast<int64_t>(m.version)).Bind(2, m.name);
    if (auto r = ins->Run("record migration"); !r) return std::move(r).error();
    if (auto r = tx.Commit(); !r) return std::move(r).error();
    current = m.version;
  }
  return current;
}

}  // namespace p2p::state
