// Small RAII helpers over the SQLite C API for the adapters (state DB).
// Errors become Result values with the SQLite message and the statement's purpose; SQLITE_FULL
// becomes kDiskFull, SQLITE_BUSY (after the busy timeout) kBusy.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace p2p::state {

Error SqliteError(sqlite3* db, int rc, std::string_view what);

// A prepared statement; reset (not finalized) between uses.
class Stmt {
 public:
  Stmt() = default;
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;

  static Result<Stmt> Prepare(sqlite3* db, std::string_view sql);

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, std::string_view v);  // copied (SQLITE_TRANSIENT)
  Stmt& BindNull(int i);
  // SQLITE_ROW -> true, SQLITE_DONE -> false, else error.
  Result<bool> Step(std::string_view what);
  // Step to completion, then reset.
  Result<void> Run(std::string_view what);
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string Text(int col) const;
  std::string_view TextView(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* s_ = nullptr;
};

Result<void> Exec(sqlite3* db, std::string_view sql, std::string_view what);

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction();
  Result<void> Begin();
  Result<void> Commit();

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace p2p::state
