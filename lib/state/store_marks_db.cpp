#include "state/store_marks_db.h"

#include "state/sql.h"

namespace p2p::state {

namespace {

#define SM_TRY(expr)                                   \
  do {                                                 \
    auto sm_try_r = (expr);                            \
    if (!sm_try_r) return std::move(sm_try_r).error(); \
  } while (0)

// PRAGMA synchronous=FULL for the transactions in its scope: the WAL is synced at their commit.
class DurableCommits {
 public:
  explicit DurableCommits(Conn* db) : db_(db) {}
  ~DurableCommits() {
    if (on_) (void)Exec(db_, "PRAGMA synchronous=NORMAL", "set synchronous");
  }
  Result<void> Start() {
    if (db_->dialect() != Dialect::kSqlite) return Ok();  // PostgreSQL commits durably
    SM_TRY(Exec(db_, "PRAGMA synchronous=FULL", "set synchronous"));
    on_ = true;
    return Ok();
  }

 private:
  Conn* db_;
  bool on_ = false;
};

Result<void> Upsert(Conn* db, const std::vector<StoreMarkRow>& marks) {
  auto data =
      Stmt::Prepare(db,
                    "INSERT INTO store_marks(type, ndjson_end, index_end) VALUES (?1,?2,?3) "
                    "ON CONFLICT(type) DO UPDATE SET ndjson_end=excluded.ndjson_end, "
                    "index_end=excluded.index_end");
  if (!data) return std::move(data).error();
  auto dead = Stmt::Prepare(db,
                            "INSERT INTO store_tombstone_marks(type, deleted_end) VALUES (?1, ?2) "
                            "ON CONFLICT(type) DO UPDATE SET deleted_end = excluded.deleted_end");
  if (!dead) return std::move(dead).error();
  for (const StoreMarkRow& m : marks) {
    if (m.ndjson_end >= 0) {
      SM_TRY(data->Bind(1, m.type)
                 .Bind(2, m.ndjson_end)
                 .Bind(3, m.index_end)
                 .Run("record store mark"));
    }
    if (m.deleted_end >= 0) {
      SM_TRY(dead->Bind(1, m.type).Bind(2, m.deleted_end).Run("record tombstone mark"));
    }
  }
  return Ok();
}

}  // namespace

Result<std::map<std::string, StoreMarkRow>> LoadStoreMarks(StateDb& db) {
  std::map<std::string, StoreMarkRow> out;
  // Each table adds its columns to the type's row.
  auto read = [&](const char* sql, const auto& set) -> Result<void> {
    auto st = Stmt::Prepare(db.handle(), sql);
    if (!st) return std::move(st).error();
    for (;;) {
      auto row = st->Step("read store marks");
      if (!row) return std::move(row).error();
      if (!*row) return Ok();
      StoreMarkRow& m = out[st->Text(0)];
      m.type = st->Text(0);
      set(*st, m);
    }
  };
  SM_TRY(read("SELECT type, ndjson_end, index_end FROM store_marks",
              [](const Stmt& st, StoreMarkRow& m) {
                m.ndjson_end = st.Int(1);
                m.index_end = st.Int(2);
              }));
  SM_TRY(read("SELECT type, deleted_end FROM store_tombstone_marks",
              [](const Stmt& st, StoreMarkRow& m) { m.deleted_end = st.Int(1); }));
  return out;
}

Result<void> RecordStoreMarks(StateDb& db, const std::vector<StoreMarkRow>& marks) {
  DurableCommits durable(db.handle());
  SM_TRY(durable.Start());
  Transaction tx(db.handle());
  SM_TRY(tx.Begin());
  SM_TRY(Upsert(db.handle(), marks));
  return tx.Commit();
}

Result<void> SaveJobWithStoreMarks(StateDb& db, const Job& job, JobState previous,
                                   const std::vector<StoreMarkRow>& marks, int64_t now_ms) {
  DurableCommits durable(db.handle());
  if (!marks.empty()) SM_TRY(durable.Start());
  Transaction tx(db.handle());
  SM_TRY(tx.Begin());
  SM_TRY(Upsert(db.handle(), marks));
  SM_TRY(db.SaveJobInTransaction(job, previous, now_ms));
  return tx.Commit();
}

Result<std::set<int64_t>> JobsWithStagedLines(StateDb& db) {
  std::set<int64_t> out;
  auto st = Stmt::Prepare(db.handle(), "SELECT id FROM members WHERE state = ?1");
  if (!st) return std::move(st).error();
  st->Bind(1, static_cast<int64_t>(JobState::kDownloading));
  for (;;) {
    auto row = st->Step("list downloading jobs");
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.insert(st->Int(0));
  }
  return out;
}

}  // namespace p2p::state
