#include "state/sqlite/sqlite_conn.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace p2p::state {

namespace {

bool Locked(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// SQLite's busy handler waits up to the busy timeout; an outside reader holding a lock longer
// than that must still not fail our write, so keep waiting (bounded: 600 x 50 ms; the daemon is
// single-threaded and nothing else progresses meanwhile anyway).
constexpr int kLockedSpins = 600;

class SqliteStmt final : public StmtImpl {
 public:
  SqliteStmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~SqliteStmt() override { sqlite3_finalize(s_); }
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;

  void Bind(int i, int64_t v) override { sqlite3_bind_int64(s_, i, v); }
  void Bind(int i, std::string_view v) override {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindNull(int i) override { sqlite3_bind_null(s_, i); }

  Result<bool> Step(std::string_view what) override {
    for (int spins = 0;; ++spins) {
      int rc = sqlite3_step(s_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      if (Locked(rc) && spins < kLockedSpins) {
        sqlite3_reset(s_);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      Error e = SqliteError(db_, rc, what);
      sqlite3_reset(s_);
      return e;
    }
  }
  void Reset() override {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int64_t Int(int col) const override { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const override { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string_view TextView(int col) const override {
    const unsigned char* p = sqlite3_column_text(s_, col);
    if (p == nullptr) return {};
    return std::string_view(reinterpret_cast<const char*>(p),
                            static_cast<size_t>(sqlite3_column_bytes(s_, col)));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

// Creates the file 0600 before SQLite opens it, so the PHI never sits in a wider-mode file.
Result<void> CreatePrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return MakeError(ErrorKind::kIo, "state.path: " + path + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);
  ::close(fd);
  return Ok();
}

}  // namespace

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  ErrorKind kind = ErrorKind::kIo;
  if (primary == SQLITE_FULL) kind = ErrorKind::kDiskFull;
  if (Locked(rc)) kind = ErrorKind::kBusy;
  return MakeError(kind, std::move(msg));
}

Result<std::unique_ptr<SqliteConn>> SqliteConn::Open(const std::string& path) {
  if (auto c = CreatePrivateFile(path); !c) return std::move(c).error();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Error e = SqliteError(db, rc, "open state DB " + path);
    sqlite3_close(db);
    return e;
  }
  std::unique_ptr<SqliteConn> conn(new SqliteConn(db));
  sqlite3_busy_timeout(db, 5000);
  auto fail = [&](Error e) { return std::move(e).Context("state DB " + path); };
  // auto_vacuum can only be chosen before the first table exists: a new file gets INCREMENTAL
  // (StateDb::Housekeep), an existing one keeps its mode.
  bool empty = false;
  {
    auto pages = Stmt::Prepare(conn.get(), "PRAGMA page_count");
    if (!pages) return fail(std::move(pages).error());
    auto row = pages->Step("read page count");
    if (!row) return fail(std::move(row).error());
    empty = *row && pages->Int(0) == 0;
  }
  // synchronous=NORMAL (benchmark target 5): FULL cost one fdatasync per committed step (~13 per
  // member), which capped small members at ~100/s on the loop thread. In WAL mode NORMAL still
  // writes every commit to the WAL before COMMIT returns, so each state change is committed (and
  // survives kill -9 of the daemon) before the next request is sent, exactly as before; the WAL
  // is synced at each checkpoint. Only an OS crash or power loss can drop the newest commits,
  // and then SQLite recovers a prefix of them: an earlier consistent state from which every step
  // is safe to repeat ($member-match and downloads are idempotent, a repeated kick-off leaves a
  // stray export at the payer). The stores stay exact: SqliteStore rows are upserts, and an
  // NdjsonStore append is fsynced before its mark is recorded here, so a lost mark only makes
  // Recover() cut that append and the file is downloaded again (see StateDb::ReplaceStoreMarks
  // for the one write that must be durable at once).
  //
  // wal_autocheckpoint: each committed step rewrites the same few hot pages (member_counts,
  // index leaves); a checkpoint every 8192 WAL pages (32 MiB) instead of 1000 writes them back to
  // the DB file (and syncs) 8x less often. A 16 MiB page cache keeps the indexes of 100k members
  // in memory (default 2 MiB: a pread per lookup once the DB outgrew it). Benchmark target 5.
  const char* pragmas[] = {empty ? "PRAGMA auto_vacuum=INCREMENTAL" : nullptr,
                           "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                           "PRAGMA wal_autocheckpoint=8192", "PRAGMA cache_size=-16384",
                           "PRAGMA foreign_keys=ON"};
  for (const char* p : pragmas) {
    if (p == nullptr) continue;
    if (auto r = conn->Exec(p, p); !r) return fail(std::move(r).error());
  }
  return conn;
}

SqliteConn::~SqliteConn() {
  // _v2: a statement still alive (its owner destroyed later) closes the connection when it goes.
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<StmtImpl>> SqliteConn::Prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
  return std::unique_ptr<StmtImpl>(new SqliteStmt(db_, s));
}

Result<void> SqliteConn::Exec(std::string_view sql, std::string_view what) {
  std::string s(sql);
  for (int spins = 0;; ++spins) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (err != nullptr) sqlite3_free(err);
    if (rc == SQLITE_OK) return Ok();
    if (Locked(rc) && spins < kLockedSpins) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    return SqliteError(db_, rc, what);
  }
}

Result<void> SqliteConn::Begin() { return Exec("BEGIN IMMEDIATE", "begin transaction"); }
Result<void> SqliteConn::BeginRead() { return Exec("BEGIN", "begin read"); }
Result<void> SqliteConn::Commit() { return Exec("COMMIT", "commit"); }
void SqliteConn::Rollback() { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }
bool SqliteConn::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
std::string SqliteConn::WriteProblem() const {
  return sqlite3_db_readonly(db_, "main") != 0 ? "state database is read-only" : "";
}
int64_t SqliteConn::Changes() const { return sqlite3_changes64(db_); }

}  // namespace p2p::state
