// The SQLite implementation of the state's SQL connection (state/sql.h): the embedded default
// (state.kind: sqlite). Open() creates the file 0600 and sets the pragmas the state DB relies on
// (WAL, synchronous=NORMAL, incremental auto_vacuum for a new file; the .cpp says why each keeps
// the crash rules). A statement that finds the DB locked by an outside reader waits (50 ms
// steps, up to 30 s) instead of failing the write.
//
// Threading: one thread at a time (the daemon's loop thread).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "state/sql.h"

namespace p2p::state {

Error SqliteError(sqlite3* db, int rc, std::string_view what);

class SqliteConn final : public Conn {
 public:
  // Opens or creates the state DB at `path` (see above). kIo when it cannot.
  static Result<std::unique_ptr<SqliteConn>> Open(const std::string& path);
  ~SqliteConn() override;

  Dialect dialect() const override { return Dialect::kSqlite; }
  Result<std::unique_ptr<StmtImpl>> Prepare(std::string_view sql) override;
  Result<void> Exec(std::string_view sql, std::string_view what) override;
  Result<void> Begin() override;
  Result<void> BeginRead() override;
  Result<void> Commit() override;
  void Rollback() override;
  bool InTransaction() const override;
  std::string WriteProblem() const override;
  int64_t Changes() const override;

  sqlite3* raw() const { return db_; }

 private:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace p2p::state
