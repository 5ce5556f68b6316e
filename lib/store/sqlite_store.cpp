#include "store/sqlite_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <utility>

#include "store/posix_file.h"
#include "store/type_name.h"

namespace p2p::store {

struct SqliteStore::Table {
  std::string type;
  sqlite3_stmt* upsert = nullptr;
};

class SqliteFileWriter final : public FileWriter {
 public:
  SqliteFileWriter(SqliteStore* store, SqliteStore::Table* table, FileContext ctx)
      : store_(store), table_(table), ctx_(std::move(ctx)) {}
  ~SqliteFileWriter() override { Abort(); }

  Result<void> Put(std::string_view id, std::string_view line) override {
    return store_->Upsert(*table_, ctx_, this, id, line);
  }

  Result<void> PutFor(std::string_view member_key, std::string_view id,
                      std::string_view line) override {
    if (member_key.empty()) {
      return MakeError(ErrorKind::kInvalid, "table \"" + ctx_.type + "\": empty member_key");
    }
    return store_->Upsert(*table_, ctx_, this, id, line, member_key);
  }

  Result<StoreMark> Commit() override {
    done_ = true;
    if (auto q = store_->Quiesce(this); !q) return std::move(q).error();
    auto r = store_->CommitOpen("table \"" + ctx_.type + "\": commit");
    if (!r) return std::move(r).error();
    return StoreMark{ctx_.type, -1, -1};
  }

  void Abort() override {
    if (done_) return;
    done_ = true;
    store_->AbortWriter(this);
  }

  // On the writer thread: one row this writer queued (SqliteStore::Upsert).
  Result<void> Apply(const RowWriterThread::Row& r) const {
    return store_->UpsertNow(*table_, ctx_, this, r.id, r.line, r.member_key);
  }

 private:
  SqliteStore* store_;
  SqliteStore::Table* table_;
  FileContext ctx_;
  bool done_ = false;
};

namespace {

bool IsBusy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

std::string Quoted(std::string_view type) { return "\"" + std::string(type) + "\""; }

// Creates the database file 0600 before SQLite opens it; SQLite then gives -wal/-shm the same mode.
Result<void> PrecreateDatabaseFile(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    auto dirs = MakeDirs(path.substr(0, slash), 0700);
    if (!dirs) return std::move(dirs).error().Context("sqlite store");
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    int rc = ::fchmod(fd, 0600);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoError(err, "sqlite store: chmod " + path);
    return Ok();
  }
  if (errno == EEXIST) return Ok();
  return ErrnoError(errno, "sqlite store: create " + path);
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  return Open(path, Tuning{});
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       const Tuning& tuning) {
  if (path.empty()) return MakeError(ErrorKind::kInvalid, "sqlite store: store.path is empty");
  auto created = PrecreateDatabaseFile(path);
  if (!created) return std::move(created).error();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return MakeError(ErrorKind::kIo, "sqlite store " + path + ": open: " + msg);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, path, tuning));
  auto init = store->Init();
  if (!init) return std::move(init).error();
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, std::string path, const Tuning& tuning)
    : db_(db), path_(std::move(path)), tuning_(tuning) {}

SqliteStore::~SqliteStore() {
  rows_.reset();  // applies what is queued, then stops the thread: the connection is ours again
  if (in_txn_) sqlite3_step(rollback_);
  for (auto& [name, table] : tables_) sqlite3_finalize(table->upsert);
  sqlite3_finalize(begin_);
  sqlite3_finalize(commit_);
  sqlite3_finalize(rollback_);
  sqlite3_close_v2(db_);
}

Result<void> SqliteStore::Init() {
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, tuning_.busy_timeout_ms);
  if (tuning_.page_size > 0) {  // before WAL mode: it fixes the page size of a new database
    std::string sql = "PRAGMA page_size=" + std::to_string(tuning_.page_size);
    if (auto r = Exec(sql.c_str(), "page_size"); !r) return r;
  }
  if (tuning_.cache_kib > 0) {
    std::string sql = "PRAGMA cache_size=-" + std::to_string(tuning_.cache_kib);
    if (auto r = Exec(sql.c_str(), "cache_size"); !r) return r;
  }
  sqlite3_stmt* wal = nullptr;
  int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &wal, nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "journal_mode");
  rc = Step(wal);
  std::string mode =
      rc == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(wal, 0)) : std::string();
  sqlite3_finalize(wal);
  if (rc != SQLITE_ROW) return SqlError(rc, "journal_mode");
  if (mode != "wal") {
    return MakeError(ErrorKind::kIo,
                     "sqlite store " + path_ + ": cannot use WAL (got " + mode + ")");
  }
  if (auto r = Exec("PRAGMA synchronous=NORMAL", "synchronous"); !r) return r;
  if (tuning_.max_page_count > 0) {
    std::string sql = "PRAGMA max_page_count=" + std::to_string(tuning_.max_page_count);
    if (auto r = Exec(sql.c_str(), "max_page_count"); !r) return r;
  }
  struct {
    const char* sql;
    sqlite3_stmt** stmt;
  } stmts[] = {{"BEGIN IMMEDIATE", &begin_}, {"COMMIT", &commit_}, {"ROLLBACK", &rollback_}};
  for (auto& s : stmts) {
    rc = sqlite3_prepare_v2(db_, s.sql, -1, s.stmt, nullptr);
    if (rc != SQLITE_OK) return SqlError(rc, s.sql);
  }
  if (tuning_.writer_thread) {
    rows_ = std::make_unique<RowWriterThread>(
        [](const RowWriterThread::Row& r) {
          return static_cast<const SqliteFileWriter*>(r.owner)->Apply(r);
        },
        static_cast<size_t>(tuning_.handoff_bytes), static_cast<size_t>(tuning_.handoff_rows));
  }
  return Ok();
}

int SqliteStore::Step(sqlite3_stmt* stmt) {
  int rc = sqlite3_step(stmt);
  for (int i = 0; i < tuning_.busy_retries && IsBusy(rc); ++i) {
    sqlite3_reset(stmt);
    rc = sqlite3_step(stmt);
  }
  return rc;
}

Error SqliteStore::SqlError(int rc, std::string_view what) const {
  std::string msg = sqlite3_errmsg(db_);
  std::string prefix = "sqlite store " + path_ + ": " + std::string(what) + ": ";
  int primary = rc & 0xff;
  if (primary == SQLITE_FULL || (primary == SQLITE_IOERR && sqlite3_system_errno(db_) == ENOSPC)) {
    return MakeError(ErrorKind::kDiskFull, prefix + "disk full (" + msg + ")");
  }
  if (primary == SQLITE_READONLY ||
      (primary == SQLITE_IOERR && sqlite3_system_errno(db_) == EROFS)) {
    return MakeError(ErrorKind::kDiskFull, prefix + "read-only (" + msg + ")");
  }
  if (IsBusy(rc)) return MakeError(ErrorKind::kBusy, prefix + msg);
  return MakeError(ErrorKind::kIo, prefix + msg);
}

Result<void> SqliteStore::Exec(const char* sql, std::string_view what) {
  while (sql != nullptr && *sql != '\0') {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, &tail);
    if (rc != SQLITE_OK) return SqlError(rc, what);
    if (stmt != nullptr) {
      rc = Step(stmt);
      while (rc == SQLITE_ROW) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        Error e = SqlError(rc, what);
        sqlite3_finalize(stmt);
        return e;
      }
      sqlite3_finalize(stmt);
    }
    sql = tail;
  }
  return Ok();
}

void SqliteStore::FixWalModes() {
  if (wal_modes_fixed_) return;
  wal_modes_fixed_ = true;
  for (const char* suffix : {"-wal", "-shm"}) {
    std::string p = path_ + suffix;
    ::chmod(p.c_str(), 0600);  // normally a no-op: SQLite copies the database file's mode
  }
}

Result<SqliteStore::Table*> SqliteStore::TableFor(const std::string& type) {
  if (auto it = tables_.find(type); it != tables_.end()) return it->second.get();
  if (auto v = ValidateResourceType(type); !v) return std::move(v).error().Context("sqlite store");
  (void)Quiesce();  // DDL: the connection must be ours
  const std::string q = Quoted(type);
  const std::string index = Quoted(type + "_payer_id");
  std::string ddl = "CREATE TABLE IF NOT EXISTS " + q +
                    " (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, payer TEXT NOT NULL,"
                    " member_key TEXT NOT NULL, tx_time TEXT, job_id INTEGER, json TEXT NOT NULL);"
                    "CREATE UNIQUE INDEX IF NOT EXISTS " +
                    index + " ON " + q + "(payer, id);";
  const std::string what = "table " + q;
  if (auto r = Exec(ddl.c_str(), what + ": create"); !r) return std::move(r).error();
  std::string upsert =
      "INSERT INTO " + q +
      " (id, payer, member_key, tx_time, job_id, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
      " ON CONFLICT(payer, id) DO UPDATE SET member_key = excluded.member_key,"
      " tx_time = excluded.tx_time, job_id = excluded.job_id, json = excluded.json";
  auto table = std::make_unique<Table>();
  table->type = type;
  int rc = sqlite3_prepare_v3(db_, upsert.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &table->upsert,
                              nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, what + ": prepare");
  Table* raw = table.get();
  tables_.emplace(type, std::move(table));
  return raw;
}

Result<std::unique_ptr<FileWriter>> SqliteStore::Begin(const FileContext& ctx) {
  auto table = TableFor(ctx.type);
  if (!table) return std::move(table).error();
  return std::unique_ptr<FileWriter>(new SqliteFileWriter(this, *table, ctx));
}

Result<void> SqliteStore::Upsert(Table& t, const FileContext& ctx, const void* writer,
                                 std::string_view id, std::string_view json,
                                 std::string_view member_key) {
  if (rows_) return rows_->Add(RowWriterThread::Row{writer, member_key, id, json});
  return UpsertNow(t, ctx, writer, id, json, member_key);
}

Result<void> SqliteStore::UpsertNow(Table& t, const FileContext& ctx, const void* writer,
                                    std::string_view id, std::string_view json,
                                    std::string_view member_key) {
  if (member_key.empty()) member_key = ctx.member_key;
  if (!in_txn_) {
    int rc = Step(begin_);
    sqlite3_reset(begin_);
    if (rc != SQLITE_DONE) return SqlError(rc, "table \"" + t.type + "\": begin");
    in_txn_ = true;
    txn_rows_ = txn_bytes_ = 0;
    txn_writer_ = writer;
    txn_shared_ = false;
  } else if (writer != txn_writer_) {
    if (txn_writer_ == nullptr) {
      txn_writer_ = writer;
    } else {
      txn_shared_ = true;
    }
  }
  sqlite3_stmt* s = t.upsert;
  sqlite3_bind_text64(s, 1, id.data(), id.size(), SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_text64(s, 2, ctx.payer.data(), ctx.payer.size(), SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_text64(s, 3, member_key.data(), member_key.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (ctx.transaction_time.empty()) {
    sqlite3_bind_null(s, 4);
  } else {
    sqlite3_bind_text64(s, 4, ctx.transaction_time.data(), ctx.transaction_time.size(),
                        SQLITE_STATIC, SQLITE_UTF8);
  }
  sqlite3_bind_int64(s, 5, ctx.job_id);
  sqlite3_bind_text64(s, 6, json.data(), json.size(), SQLITE_STATIC, SQLITE_UTF8);
  int rc = Step(s);
  if (rc != SQLITE_DONE) {
    Error e = SqlError(rc, "table \"" + t.type + "\": upsert");
    sqlite3_reset(s);
    if (sqlite3_get_autocommit(db_)) in_txn_ = false;  // SQLite rolled the transaction back
    return e;
  }
  sqlite3_reset(s);
  ++txn_rows_;
  txn_bytes_ += static_cast<int64_t>(json.size());
  if (txn_rows_ >= tuning_.batch_rows || txn_bytes_ >= tuning_.batch_bytes) {
    return CommitNow("table \"" + t.type + "\": commit");
  }
  return Ok();
}

Result<void> SqliteStore::Quiesce(const void* writer) {
  if (!rows_) return Ok();
  rows_->Drain();
  if (writer == nullptr) return Ok();
  if (auto e = rows_->TakeError(writer)) return std::move(*e);
  return Ok();
}

Result<void> SqliteStore::CommitOpen(std::string_view what) {
  (void)Quiesce();  // other writers' errors stay theirs
  return CommitNow(what);
}

Result<void> SqliteStore::CommitNow(std::string_view what) {
  if (!in_txn_) return Ok();
  int rc = Step(commit_);
  sqlite3_reset(commit_);
  if (rc != SQLITE_DONE) {
    Error e = SqlError(rc, what);
    if (sqlite3_get_autocommit(db_)) in_txn_ = false;
    return e;
  }
  in_txn_ = false;
  txn_writer_ = nullptr;
  txn_shared_ = false;
  FixWalModes();
  return Ok();
}

void SqliteStore::AbortWriter(const void* writer) {
  (void)Quiesce(writer);  // its error, if any, goes with it
  if (!in_txn_ || txn_shared_ || txn_writer_ != writer) return;
  sqlite3_step(rollback_);
  sqlite3_reset(rollback_);
  in_txn_ = false;
  txn_writer_ = nullptr;
}

Result<void> SqliteStore::Recover(const std::map<std::string, StoreMark>& /*committed*/,
                                  const std::set<int64_t>& /*staging_jobs*/) {
  return Ok();
}

Result<std::vector<CompactedType>> SqliteStore::Compact(
    const std::function<Result<void>(const StoreMark&)>& /*record*/) {
  return std::vector<CompactedType>{};
}

Result<void> SqliteStore::Scan(std::string_view type,
                               const std::function<void(const StoredResource&)>& fn) {
  if (auto v = ValidateResourceType(type); !v) return std::move(v).error().Context("sqlite store");
  (void)Quiesce();
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                              -1, &s, nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "list tables");
  sqlite3_bind_text64(s, 1, type.data(), type.size(), SQLITE_STATIC, SQLITE_UTF8);
  rc = Step(s);
  sqlite3_finalize(s);
  if (rc == SQLITE_DONE) return Ok();  // no such table yet: nothing stored
  if (rc != SQLITE_ROW) return SqlError(rc, "list tables");
  std::string sql = "SELECT payer, member_key, id FROM " + Quoted(type);
  rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "table " + Quoted(type) + ": scan");
  auto col = [s](int i) {
    const char* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
    return std::string_view(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(s, i)));
  };
  while ((rc = Step(s)) == SQLITE_ROW) fn(StoredResource{col(0), col(1), col(2)});
  Result<void> result = Ok();
  if (rc != SQLITE_DONE) result = SqlError(rc, "table " + Quoted(type) + ": scan");
  sqlite3_finalize(s);
  return result;
}

Result<std::map<std::string, int64_t>> SqliteStore::CountByType() {
  (void)Quiesce();
  std::map<std::string, int64_t> counts;
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &s,
                              nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "list tables");
  while ((rc = Step(s)) == SQLITE_ROW) {
    const char* name = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    if (name != nullptr && IsResourceTypeName(name)) counts[name] = 0;
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return SqlError(rc, "list tables");
  for (auto& [type, count] : counts) {
    std::string sql = "SELECT count(*) FROM " + Quoted(type);
    rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
    if (rc != SQLITE_OK) return SqlError(rc, "table " + Quoted(type) + ": count");
    rc = Step(s);
    if (rc == SQLITE_ROW) count = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) return SqlError(rc, "table " + Quoted(type) + ": count");
  }
  return counts;
}

}  // namespace p2p::store
