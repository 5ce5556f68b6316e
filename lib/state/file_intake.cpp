#include "state/file_intake.h"

#include <limits>

namespace p2p::state {
namespace {

#define FI_TRY(expr)                       \
  do {                                     \
    auto _r = (expr);                      \
    if (!_r) return std::move(_r).error(); \
  } while (0)

Result<void> Run(Conn* db, std::string_view sql, const std::string& name,
                 std::string_view what) {
  auto st = Stmt::Prepare(db, sql);
  if (!st) return std::move(st).error();
  return st->Bind(1, name).Run(what);
}

// The duplicate-check key as stored. Keys are opaque bytes with NUL separators
// (source/member_file.h); a PostgreSQL text value cannot hold a NUL (libpq would cut the key at
// the first one, so two payers' rows of a member, or a row and its revocation, would collide):
// there '\' and NUL are escaped. SQLite keeps the bytes as they are.
const std::string& StoredKey(Dialect dialect, const std::string& key, std::string* buf) {
  if (dialect != Dialect::kPostgres) return key;
  buf->clear();
  for (char c : key) {
    if (c == '\\') {
      *buf += "\\\\";
    } else if (c == '\0') {
      *buf += "\\0";
    } else {
      *buf += c;
    }
  }
  return *buf;
}

}  // namespace

Result<std::unique_ptr<FileIntake>> FileIntake::Open(StateDb& db, const std::string& name,
                                                     int64_t size, int64_t mtime_ns) {
  std::unique_ptr<FileIntake> in(new FileIntake(db, name));
  in->size_ = size;
  in->mtime_ns_ = mtime_ns;
  auto find_key = Stmt::Prepare(db.handle(), "SELECT line FROM source_keys WHERE name=?1 AND key=?2");
  if (!find_key) return std::move(find_key).error();
  in->find_key_ = std::move(find_key).value();
  auto insert_key =
      Stmt::Prepare(db.handle(), "INSERT INTO source_keys(name, key, line) VALUES (?1,?2,?3)");
  if (!insert_key) return std::move(insert_key).error();
  in->insert_key_ = std::move(insert_key).value();

  auto taken = db.SourceFileTaken(name);
  if (!taken) return std::move(taken).error();
  if (*taken) {
    in->taken_ = true;
    in->done_line_ = std::numeric_limits<int64_t>::max();
    return in;
  }
  auto st = Stmt::Prepare(db.handle(),
                          "SELECT size, mtime_ns, done_line, inserted, already_known "
                          "FROM source_intake WHERE name=?1");
  if (!st) return std::move(st).error();
  st->Bind(1, name);
  auto row = st->Step("look up source intake");
  if (!row) return std::move(row).error();
  if (*row && st->Int(0) == size && st->Int(1) == mtime_ns) {
    in->done_line_ = st->Int(2);
    in->counts_.inserted = static_cast<int>(st->Int(3));
    in->counts_.already_known = static_cast<int>(st->Int(4));
    return in;
  }
  st->Reset();
  // First sight of this file (or another file under a name whose intake never finished).
  Transaction tx(db.handle());
  FI_TRY(tx.Begin());
  FI_TRY(Run(db.handle(), "DELETE FROM source_keys WHERE name=?1", name, "reset source keys"));
  auto put = Stmt::Prepare(db.handle(),
                           "INSERT INTO source_intake(name, size, mtime_ns, done_line, inserted, "
                           "already_known) VALUES (?1,?2,?3,0,0,0) ON CONFLICT(name) DO UPDATE "
                           "SET size=excluded.size, mtime_ns=excluded.mtime_ns, done_line=0, "
                           "inserted=0, already_known=0");
  if (!put) return std::move(put).error();
  FI_TRY(put->Bind(1, name).Bind(2, size).Bind(3, mtime_ns).Run("record source intake"));
  FI_TRY(tx.Commit());
  return in;
}

Result<void> FileIntake::BeginBatch() {
  if (tx_) return Ok();
  tx_.emplace(db_.handle());
  if (auto r = tx_->Begin(); !r) {
    tx_.reset();
    return r;
  }
  return Ok();
}

Result<uint64_t> FileIntake::FirstLine(const std::string& key, uint64_t line) {
  FI_TRY(BeginBatch());
  const std::string& stored = StoredKey(db_.dialect(), key, &key_buf_);
  find_key_.Bind(1, name_).Bind(2, stored);
  auto row = find_key_.Step("look up source key");
  const uint64_t first = row && *row ? static_cast<uint64_t>(find_key_.Int(0)) : 0;
  find_key_.Reset();
  if (!row) return std::move(row).error();
  if (first != 0) return first;
  FI_TRY(insert_key_.Bind(1, name_).Bind(2, stored).Bind(3, static_cast<int64_t>(line))
             .Run("record source key"));
  return line;
}

Result<void> FileIntake::Add(const NewMember& member, int64_t now_ms) {
  FI_TRY(BeginBatch());
  return db_.InsertMemberInTransaction(name_, member, now_ms, counts_);
}

Result<void> FileIntake::Commit(int64_t line, const std::vector<LifecycleIntake>& lifecycle) {
  if (taken_) {
    tx_.reset();
    return Ok();
  }
  FI_TRY(BeginBatch());
  FI_TRY(RecordLifecycleInTransaction(db_, lifecycle));
  auto st = Stmt::Prepare(db_.handle(),
                          "UPDATE source_intake SET done_line=?2, inserted=?3, already_known=?4 "
                          "WHERE name=?1");
  if (!st) return std::move(st).error();
  FI_TRY(st->Bind(1, name_)
             .Bind(2, line)
             .Bind(3, static_cast<int64_t>(counts_.inserted))
             .Bind(4, static_cast<int64_t>(counts_.already_known))
             .Run("record source intake progress"));
  auto r = tx_->Commit();
  tx_.reset();
  if (!r) return r;
  done_line_ = line;
  return Ok();
}

Result<void> FileIntake::Finish(int rows_bad, int64_t now_ms) {
  tx_.reset();  // REQUIRES: the last batch was committed
  if (taken_) return Ok();
  Transaction tx(db_.handle());
  FI_TRY(tx.Begin());
  auto rec = Stmt::Prepare(db_.handle(),
                           "INSERT INTO source_files(name, rows_ok, rows_bad, taken_ms) "
                           "VALUES (?1,?2,?3,?4) ON CONFLICT(name) DO UPDATE SET "
                           "rows_ok=excluded.rows_ok, rows_bad=excluded.rows_bad, "
                           "taken_ms=excluded.taken_ms");
  if (!rec) return std::move(rec).error();
  FI_TRY(rec->Bind(1, name_)
             .Bind(2, static_cast<int64_t>(counts_.inserted + counts_.already_known))
             .Bind(3, static_cast<int64_t>(rows_bad))
             .Bind(4, now_ms)
             .Run("record source file"));
  FI_TRY(Run(db_.handle(), "DELETE FROM source_intake WHERE name=?1", name_,
             "drop source intake progress"));
  FI_TRY(tx.Commit());
  taken_ = true;
  return Ok();
}

Result<void> FileIntake::DropKeys(StateDb& db, const std::string& name) {
  return Run(db.handle(), "DELETE FROM source_keys WHERE name=?1", name, "drop source keys");
}

}  // namespace p2p::state
