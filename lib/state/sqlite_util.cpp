#include "state/sqlite_util.h"

#include <chrono>
#include <thread>

namespace p2p::state {

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  ErrorKind kind = ErrorKind::kIo;
  if (primary == SQLITE_FULL) kind = ErrorKind::kDiskFull;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) kind = ErrorKind::kBusy;
  return MakeError(kind, std::move(msg));
}

Stmt::~Stmt() {
  if (s_ != nullptr) sqlite3_finalize(s_);
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (s_ != nullptr) sqlite3_finalize(s_);
    db_ = o.db_;
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

Result<Stmt> Stmt::Prepare(sqlite3* db, std::string_view sql) {
  Stmt st;
  st.db_ = db;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &st.s_, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "prepare");
  return st;
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

Result<bool> Stmt::Step(std::string_view what) {
  // SQLite's busy handler waits up to the busy timeout; an outside reader holding a lock longer
  // than that must still not fail our write, so keep waiting (bounded by the caller's patience:
  // the daemon is single-threaded and nothing else progresses meanwhile anyway).
  for (int spins = 0;; ++spins) {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    int primary = rc & 0xff;
    if ((primary == SQLITE_BUSY || primary == SQLITE_LOCKED) && spins < 600) {
      sqlite3_reset(s_);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    Error e = SqliteError(db_, rc, what);
    sqlite3_reset(s_);
    return e;
  }
}

Result<void> Stmt::Run(std::string_view what) {
  auto r = Step(what);
  Reset();
  if (!r) return std::move(r).error();
  return Ok();
}

void Stmt::Reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

std::string Stmt::Text(int col) const { return std::string(TextView(col)); }

std::string_view Stmt::TextView(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  if (p == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(p),
                          static_cast<size_t>(sqlite3_column_bytes(s_, col)));
}

Result<void> Exec(sqlite3* db, std::string_view sql, std::string_view what) {
  std::string s(sql);
  for (int spins = 0;; ++spins) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, s.c_str(), nullptr, nullptr, &err);
    if (err != nullptr) sqlite3_free(err);
    if (rc == SQLITE_OK) return Ok();
    int primary = rc & 0xff;
    if ((primary == SQLITE_BUSY || primary == SQLITE_LOCKED) && spins < 600) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    return SqliteError(db, rc, what);
  }
}

Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Result<void> Transaction::Begin() {
  auto r = Exec(db_, "BEGIN IMMEDIATE", "begin transaction");
  if (r) open_ = true;
  return r;
}

Result<void> Transaction::Commit() {
  auto r = Exec(db_, "COMMIT", "commit");
  if (r) open_ = false;
  return r;
}

}  // namespace p2p::state
