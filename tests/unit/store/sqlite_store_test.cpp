#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include "unit/store/store_test_util.h"

namespace p2p::store {
namespace {

using testing::ModeOf;
using testing::TempDir;

FileContext Ctx(std::string type, std::string payer = "bison", std::string member = "m-1",
                int64_t job = 7, int file_index = 0) {
  return FileContext{std::move(payer), std::move(member), job,
                     file_index,       std::move(type),   "2024-01-02T03:04:05Z"};
}

// A second, independent connection: what an outside reader (or a test) sees.
class Reader {
 public:
  explicit Reader(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  }
  ~Reader() { sqlite3_close_v2(db_); }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_free(err);
  }
  // Rows of `sql`, columns joined with '|'.
  std::vector<std::string> Rows(const std::string& sql) {
    std::vector<std::string> rows;
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        if (i) row += '|';
        const unsigned char* t = sqlite3_column_text(s, i);
        row += t ? reinterpret_cast<const char*>(t) : "NULL";
      }
      rows.push_back(row);
    }
    sqlite3_finalize(s);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::unique_ptr<SqliteStore> OpenStore(const std::string& path,
                                       const SqliteStore::Tuning& tuning = {}) {
  auto store = SqliteStore::Open(path, tuning);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
  return store.ok() ? std::move(*store) : nullptr;
}

void WriteFile(ResourceStore& store, const FileContext& ctx,
               const std::vector<std::pair<std::string, std::string>>& rows) {
  auto w = store.Begin(ctx);
  ASSERT_TRUE(w.ok()) << w.error().message;
  for (const auto& [id, json] : rows) {
    auto put = (*w)->Put(id, json);
    ASSERT_TRUE(put.ok()) << put.error().message;
  }
  auto mark = (*w)->Commit();
  ASSERT_TRUE(mark.ok()) << mark.error().message;
  EXPECT_EQ(mark->type, ctx.type);
  EXPECT_EQ(mark->ndjson_end, -1);
  EXPECT_EQ(mark->index_end, -1);
}

TEST(SqliteStore, UpsertReplacesTheRowOfTheSamePayerAndId) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  WriteFile(*store, Ctx("Patient"), {{"p1", R"({"resourceType":"Patient","id":"p1","v":1})"}});
  WriteFile(*store, Ctx("Patient"), {{"p1", R"({"resourceType":"Patient","id":"p1","v":2})"}});
  Reader r(dir / "store.db");
  EXPECT_EQ(r.Rows(R"(SELECT payer, id, json FROM "Patient")"),
            std::vector<std::string>{R"(bison|p1|{"resourceType":"Patient","id":"p1","v":2})"});
}

TEST(SqliteStore, SameIdFromDifferentPayersIsTwoRows) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  WriteFile(*store, Ctx("Patient", "bison"), {{"p1", R"({"id":"p1"})"}});
  WriteFile(*store, Ctx("Patient", "elk"), {{"p1", R"({"id":"p1"})"}});
  Reader r(dir / "store.db");
  EXPECT_EQ(r.Rows(R"(SELECT payer, id FROM "Patient" ORDER BY payer)"),
            (std::vector<std::string>{"bison|p1", "elk|p1"}));
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 2}}));
}

TEST(SqliteStore, StoresProvenanceColumnsAndTheLatestProvenanceOnReplace) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  WriteFile(*store, Ctx("Coverage", "bison", "m-1", 7, 0), {{"c1", R"({"id":"c1"})"}});
  FileContext later = Ctx("Coverage", "bison", "m-2", 9, 3);
  later.transaction_time = "2025-05-05T00:00:00Z";
  WriteFile(*store, later, {{"c1", R"({"id":"c1","x":1})"}});
  Reader r(dir / "store.db");
  EXPECT_EQ(r.Rows(R"(SELECT id, payer, member_key, tx_time, job_id, json FROM "Coverage")"),
            std::vector<std::string>{R"(c1|bison|m-2|2025-05-05T00:00:00Z|9|{"id":"c1","x":1})"});
}

TEST(SqliteStore, TablesAreCreatedOnFirstBeginAndNamedExactlyAsTheType) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  Reader r(dir / "store.db");
  const std::string tables = "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name";
  EXPECT_TRUE(r.Rows(tables).empty());
  auto w = store->Begin(Ctx("ExplanationOfBenefit"));
  ASSERT_TRUE(w.ok());
  (*w)->Abort();
  EXPECT_EQ(r.Rows(tables), std::vector<std::string>{"ExplanationOfBenefit"});
  EXPECT_EQ(r.Rows("SELECT name FROM sqlite_master WHERE type='index'"),
            std::vector<std::string>{"ExplanationOfBenefit_payer_id"});
  EXPECT_EQ(r.Rows(R"(SELECT name FROM pragma_table_info('ExplanationOfBenefit'))"),
            (std::vector<std::string>{"rowid", "id", "payer", "member_key", "tx_time", "job_id",
                                      "json"}));
}

TEST(SqliteStore, RejectsAnInvalidTypeBeforeAnySql) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  for (const char* bad : {"patient", "P", "Pa tient", "Patient\"; DROP TABLE x; --", "Pat1ent"}) {
    auto w = store->Begin(Ctx(bad));
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_EQ(w.error().kind, ErrorKind::kInvalid);
  }
  auto w = store->Begin(Ctx("Pa tient"));
  EXPECT_EQ(w.error().message,
            "sqlite store: invalid resource type \"Pa tient\": must match [A-Z][A-Za-z]{1,63}");
  auto scan = store->Scan("x\n", [](const StoredResource&) {});
  EXPECT_EQ(scan.error().message,
            "sqlite store: invalid resource type \"x?\": must match [A-Z][A-Za-z]{1,63}");
  Reader r(dir / "store.db");
  EXPECT_TRUE(r.Rows("SELECT name FROM sqlite_master").empty());
}

TEST(SqliteStore, AnOutsideReaderHoldingATransactionDoesNotFailWrites) {
  TempDir dir;
  SqliteStore::Tuning tuning;
  tuning.batch_rows = 100;  // several commits while the reader holds its snapshot
  auto store = OpenStore(dir / "store.db", tuning);
  WriteFile(*store, Ctx("Patient"), {{"p0", R"({"id":"p0"})"}});
  Reader reader(dir / "store.db");
  reader.Exec("BEGIN");
  EXPECT_EQ(reader.Rows(R"(SELECT count(*) FROM "Patient")"), std::vector<std::string>{"1"});
  std::vector<std::pair<std::string, std::string>> rows;
  for (int i = 1; i <= 1000; ++i) rows.emplace_back("p" + std::to_string(i), R"({"id":"x"})");
  WriteFile(*store, Ctx("Patient"), rows);
  WriteFile(*store, Ctx("Observation"), rows);  // DDL too
  EXPECT_EQ(reader.Rows(R"(SELECT count(*) FROM "Patient")"), std::vector<std::string>{"1"});
  reader.Exec("COMMIT");
  EXPECT_EQ(reader.Rows(R"(SELECT count(*) FROM "Patient")"), std::vector<std::string>{"1001"});
}

TEST(SqliteStore, RowsSpanningSeveralBatchesAreAllCommitted) {
  TempDir dir;
  SqliteStore::Tuning tuning;
  tuning.batch_rows = 7;
  tuning.batch_bytes = 64;
  auto store = OpenStore(dir / "store.db", tuning);
  std::vector<std::pair<std::string, std::string>> rows;
  for (int i = 0; i < 250; ++i) rows.emplace_back("o" + std::to_string(i), R"({"id":"o"})");
  WriteFile(*store, Ctx("Observation"), rows);
  Reader r(dir / "store.db");
  EXPECT_EQ(r.Rows(R"(SELECT count(*) FROM "Observation")"), std::vector<std::string>{"250"});
}

TEST(SqliteStore, CommitMakesRowsVisibleToOtherConnections) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  Reader r(dir / "store.db");
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put("p1", "{}").ok());
  EXPECT_EQ(r.Rows(R"(SELECT count(*) FROM "Patient")"), std::vector<std::string>{"0"});
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ(r.Rows(R"(SELECT count(*) FROM "Patient")"), std::vector<std::string>{"1"});
}

TEST(SqliteStore, AbortOfTheOnlyWriterRollsBackItsUncommittedRows) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put("p1", "{}").ok());
  (*w)->Abort();
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 0}}));
}

TEST(SqliteStore, AbortDoesNotDropAnotherWritersRows) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  auto a = store->Begin(Ctx("Patient", "bison", "m-1", 1));
  auto b = store->Begin(Ctx("Patient", "bison", "m-2", 2));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Put("pa", "{}").ok());
  ASSERT_TRUE((*b)->Put("pb", "{}").ok());
  (*a)->Abort();
  ASSERT_TRUE((*b)->Commit().ok());
  std::vector<std::string> ids;
  ASSERT_TRUE(store
                  ->Scan("Patient",
                         [&](const StoredResource& r) {
                           ids.push_back(std::string(r.id) + "@" + std::string(r.member_key));
                         })
                  .ok());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "pb@m-2"), ids.end());
}

TEST(SqliteStore, ScanGivesPayerMemberAndId) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  WriteFile(*store, Ctx("Patient", "bison", "m-1"), {{"p1", "{}"}});
  WriteFile(*store, Ctx("Patient", "elk", "m-9"), {{"p2", "{}"}});
  std::vector<std::string> seen;
  ASSERT_TRUE(store
                  ->Scan("Patient",
                         [&](const StoredResource& r) {
                           seen.push_back(std::string(r.payer) + "/" + std::string(r.member_key) +
                                          "/" + std::string(r.id));
                         })
                  .ok());
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"bison/m-1/p1", "elk/m-9/p2"}));
  seen.clear();
  ASSERT_TRUE(store->Scan("Claim", [&](const StoredResource&) { seen.push_back("x"); }).ok());
  EXPECT_TRUE(seen.empty());
}

TEST(SqliteStore, DatabaseAndWalFilesAreMode0600) {
  TempDir dir;
  auto store = OpenStore(dir / "sub/store.db");
  WriteFile(*store, Ctx("Patient"), {{"p1", "{}"}});
  EXPECT_EQ(ModeOf(dir / "sub/store.db"), 0600u);
  EXPECT_EQ(ModeOf(dir / "sub/store.db-wal"), 0600u);
  EXPECT_EQ(ModeOf(dir / "sub/store.db-shm"), 0600u);
  EXPECT_EQ(ModeOf(dir / "sub"), 0700u);
  Reader r(dir / "sub/store.db");
  EXPECT_EQ(r.Rows("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
}

TEST(SqliteStore, AFullDatabaseIsDiskFull) {
  TempDir dir;
  SqliteStore::Tuning tuning;
  tuning.max_page_count = 8;  // what a full disk looks like to SQLite: SQLITE_FULL
  auto store = OpenStore(dir / "store.db", tuning);
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok()) << w.error().message;
  const std::string big(3000, 'x');
  Result<void> put = Ok();
  for (int i = 0; i < 100 && put.ok(); ++i) put = (*w)->Put("p" + std::to_string(i), big);
  Result<StoreMark> commit = put.ok() ? (*w)->Commit() : Result<StoreMark>(put.error());
  ASSERT_FALSE(commit.ok());
  EXPECT_EQ(commit.error().kind, ErrorKind::kDiskFull);
  EXPECT_EQ(commit.error().message,
            "sqlite store " + (dir / "store.db") +
                ": table \"Patient\": upsert: disk full (database or disk is full)");
  (*w)->Abort();
}

TEST(SqliteStore, RecoverCompactAndTheJobHooksAreNoOps) {
  TempDir dir;
  auto store = OpenStore(dir / "store.db");
  EXPECT_TRUE(store->LockExclusive().ok());
  EXPECT_TRUE(store->Recover({{"Patient", StoreMark{"Patient", 5, 5}}}, {7}).ok());
  int recorded = 0;
  auto done = store->Compact([&](const StoreMark&) -> Result<void> {
    ++recorded;
    return Ok();
  });
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->empty());
  EXPECT_EQ(recorded, 0);
  auto published = store->PublishJob(7);
  ASSERT_TRUE(published.ok());
  EXPECT_TRUE(published->empty());
  EXPECT_TRUE(store->EndJob(7, JobEnd::kDrop).ok());
}

TEST(ResourceStore, OpenPicksTheKind) {
  TempDir dir;
  StoreOptions options;
  options.kind = StoreKind::kSqlite;
  options.path = dir / "store.db";
  auto sqlite = ResourceStore::Open(options);
  ASSERT_TRUE(sqlite.ok()) << sqlite.error().message;
  EXPECT_NE(dynamic_cast<SqliteStore*>(sqlite->get()), nullptr);
  options.kind = StoreKind::kNdjson;
  options.path = dir / "nd";
  auto ndjson = ResourceStore::Open(options);
  ASSERT_TRUE(ndjson.ok()) << ndjson.error().message;
  EXPECT_EQ(dynamic_cast<SqliteStore*>(ndjson->get()), nullptr);
  EXPECT_TRUE(testing::Exists(dir / "nd/.staging"));
}

}  // namespace
}  // namespace p2p::store
