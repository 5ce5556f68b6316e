// The SQL connection the job state is written through, with one implementation per backend:
// SQLite (state/sqlite/sqlite_conn.h, the embedded default) and PostgreSQL
// (state/postgres/pg_conn.h, state.kind: postgres). StateDb and the state's helpers
// (lifecycle, bulk match, intake, store marks, reports) write their SQL once, in the dialect both
// accept (ANSI SQL plus ON CONFLICT ... DO UPDATE and RETURNING, which SQLite 3.40 and
// PostgreSQL 15 share); where the backends differ (upserts a backend cannot express the same
// way, the runnable-job query, the lease claim, triggers) the caller asks dialect() and each
// variant is tested against its backend.
//
// Placeholders are written `?N` (1-based); the PostgreSQL connection turns them into `$N` and
// drops SQLite's `INDEXED BY <index>` hints. Values are bound as 64-bit integers or text; results
// read back as integers or text (a PostgreSQL boolean reads as 1 / 0).
//
// Errors become Result values with the backend's message and the statement's purpose (`what`):
// a full disk -> kDiskFull; a lock held too long, a serialization failure or a deadlock ->
// kBusy; a PostgreSQL server that cannot be reached -> kUnavailable (the connection is
// re-established on the next statement). Messages never carry a bound value.
//
// Threading: a connection and its statements are used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace p2p::state {

enum class Dialect { kSqlite, kPostgres };

// A backend's prepared statement (see Stmt).
class StmtImpl {
 public:
  virtual ~StmtImpl() = default;
  virtual void Bind(int i, int64_t v) = 0;
  virtual void Bind(int i, std::string_view v) = 0;  // copied
  virtual void BindNull(int i) = 0;
  virtual Result<bool> Step(std::string_view what) = 0;
  virtual void Reset() = 0;  // also clears the bindings
  virtual int64_t Int(int col) const = 0;
  virtual bool IsNull(int col) const = 0;
  virtual std::string_view TextView(int col) const = 0;  // valid until the next Step/Reset
};

class Conn {
 public:
  virtual ~Conn() = default;
  virtual Dialect dialect() const = 0;
  virtual Result<std::unique_ptr<StmtImpl>> Prepare(std::string_view sql) = 0;
  // Runs one or more statements without parameters.
  virtual Result<void> Exec(std::string_view sql, std::string_view what) = 0;
  // A write transaction (SQLite: BEGIN IMMEDIATE, taking the write lock at once).
  virtual Result<void> Begin() = 0;
  // A read-only transaction whose statements all see one snapshot (PostgreSQL: REPEATABLE READ).
  virtual Result<void> BeginRead() = 0;
  virtual Result<void> Commit() = 0;
  virtual void Rollback() = 0;
  virtual bool InTransaction() const = 0;
  // Rows the last INSERT / UPDATE / DELETE on this connection changed.
  virtual int64_t Changes() const = 0;
  // Why the state cannot take writes now ("state database is read-only", "... unreachable"),
  // or "" (/readyz).
  virtual std::string WriteProblem() const = 0;
};

// A prepared statement; reset (not finalized) between uses. Binds chain.
class Stmt {
 public:
  Stmt() = default;
  static Result<Stmt> Prepare(Conn* conn, std::string_view sql);

  Stmt& Bind(int i, int64_t v) {
    impl_->Bind(i, v);
    return *this;
  }
  Stmt& Bind(int i, std::string_view v) {
    impl_->Bind(i, v);
    return *this;
  }
  Stmt& BindNull(int i) {
    impl_->BindNull(i);
    return *this;
  }
  // A row -> true, done -> false, else the error.
  Result<bool> Step(std::string_view what) { return impl_->Step(what); }
  // Step to completion, then reset.
  Result<void> Run(std::string_view what);
  void Reset() { impl_->Reset(); }

  int64_t Int(int col) const { return impl_->Int(col); }
  bool IsNull(int col) const { return impl_->IsNull(col); }
  std::string Text(int col) const { return std::string(impl_->TextView(col)); }
  std::string_view TextView(int col) const { return impl_->TextView(col); }

 private:
  std::unique_ptr<StmtImpl> impl_;
};

inline Result<void> Exec(Conn* conn, std::string_view sql, std::string_view what) {
  return conn->Exec(sql, what);
}

// Begin() ... Commit(); rolls back in the destructor unless committed.
class Transaction {
 public:
  explicit Transaction(Conn* conn) : conn_(conn) {}
  ~Transaction() {
    if (open_) conn_->Rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Result<void> Begin();
  Result<void> Commit();

 private:
  Conn* conn_;
  bool open_ = false;
};

// Several reads that must agree with each other (reports): a read snapshot begun unless the
// connection is in a transaction already (then the caller's stands), ended at destruction.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Conn* conn) : conn_(conn) {}
  ~ReadSnapshot() {
    if (own_) conn_->Rollback();  // read-only: nothing to keep
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  Result<void> Begin() {
    if (conn_->InTransaction()) return Ok();
    auto r = conn_->BeginRead();
    if (r) own_ = true;
    return r;
  }

 private:
  Conn* conn_;
  bool own_ = false;
};

}  // namespace p2p::state
