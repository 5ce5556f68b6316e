// PostgresStore against a real server: what a file's rows look like in the type tables, upserts
// (a file dropped again, the last copy in a file, the newest export winning), big files merged
// in chunks, aborted files, deleted[] files and purges, and resources jsonb cannot hold (a
// \u0000 escape; a number its numeric refuses), which fail their own file only.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "postgres/postgres_store_fixture.h"

namespace p2p::store {
namespace {

using testing::ErrorText;

constexpr char kT2[] = "2025-02-01T00:00:00Z";
constexpr char kT3[] = "2025-03-01T00:00:00Z";

std::set<std::string> Scanned(ResourceStore& store, const std::string& type) {
  std::set<std::string> out;
  auto r = store.Scan(type, [&](const StoredResource& s) {
    out.insert(std::string(s.payer) + "|" + std::string(s.member_key) + "|" + std::string(s.id));
  });
  EXPECT_TRUE(r) << ErrorText(r);
  return out;
}

std::map<std::string, int64_t> Counts(ResourceStore& store) {
  auto c = store.CountByType();
  EXPECT_TRUE(c) << ErrorText(c);
  return c ? *c : std::map<std::string, int64_t>{};
}

TEST_F(PgStoreTest, CommittedFileLandsAsOneRowPerIdWithItsProvenance) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Counts(*store), (std::map<std::string, int64_t>{}));

  auto w = store->Begin(FileCtx("Patient", "2025-01-02T03:04:05.5+02:00", 7));
  ASSERT_TRUE(w) << ErrorText(w);
  ASSERT_TRUE((*w)->CommitsAsync());
  EXPECT_EQ(ErrorText((*w)->Put("p1", Resource("Patient", "p1", "first"))), "ok");
  EXPECT_EQ(ErrorText((*w)->Put("p2", Resource("Patient", "p2", "only"))), "ok");
  EXPECT_EQ(ErrorText((*w)->PutFor("m-2", "p3", Resource("Patient", "p3", "other member"))), "ok");
  EXPECT_EQ(ErrorText((*w)->Put("p1", Resource("Patient", "p1", "last"))), "ok");
  auto mark = (*w)->Commit();
  ASSERT_TRUE(mark) << ErrorText(mark);
  EXPECT_EQ(mark->type, "Patient");
  EXPECT_EQ(mark->ndjson_end, -1);
  EXPECT_EQ(mark->index_end, -1);
  EXPECT_EQ(mark->deleted_end, -1);

  EXPECT_EQ(Scanned(*store, "Patient"),
            (std::set<std::string>{"bison|m-1|p1", "bison|m-1|p2", "bison|m-2|p3"}));
  EXPECT_EQ(Scanned(*store, "Observation"), std::set<std::string>{});  // no table: nothing
  EXPECT_EQ(Counts(*store), (std::map<std::string, int64_t>{{"Patient", 3}}));
  EXPECT_EQ(Rows("Patient"),
            "bison|p1|m-1|2025-01-02 01:04:05.5|7|last\n"
            "bison|p2|m-1|2025-01-02 01:04:05.5|7|only\n"
            "bison|p3|m-2|2025-01-02 01:04:05.5|7|other member");
  // The resource is the line as jsonb, received_at the time of the merge.
  EXPECT_EQ(Sql("SELECT resource, pg_typeof(resource), received_at > now() - interval '1 minute'"
                " AND received_at <= now() FROM p2p.\"Patient\" WHERE id = 'p2'"),
            R"({"v": "only", "id": "p2", "resourceType": "Patient"}|jsonb|t)");
  EXPECT_EQ(Sql("SELECT indexdef FROM pg_indexes WHERE schemaname = 'p2p' AND tablename = "
                "'Patient' ORDER BY indexname"),
            "CREATE INDEX \"Patient_job_id\" ON p2p.\"Patient\" USING btree (job_id)\n"
            "CREATE INDEX \"Patient_member_key\" ON p2p.\"Patient\" USING btree (member_key)\n"
            "CREATE UNIQUE INDEX \"Patient_pkey\" ON p2p.\"Patient\" USING btree (payer, id)");
}

TEST_F(PgStoreTest, DroppingTheSameFileAgainAddsNoRow) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  const std::vector<std::string> ids = {"o1", "o2", "o3"};
  ASSERT_EQ(Write(*store, FileCtx("Observation", kT1, 4), ids, "a"), "ok");
  const std::string before = Rows("Observation");
  ASSERT_EQ(Write(*store, FileCtx("Observation", kT1, 4), ids, "a"), "ok");
  EXPECT_EQ(Rows("Observation"), before);
  EXPECT_EQ(Counts(*store), (std::map<std::string, int64_t>{{"Observation", 3}}));
  // A copy from the same export (same transactionTime) replaces the row too.
  ASSERT_EQ(Write(*store, FileCtx("Observation", kT1, 6), {"o3"}, "again"), "ok");
  EXPECT_EQ(Sql("SELECT job_id, resource->>'v' FROM p2p.\"Observation\" WHERE id = 'o3'"),
            "6|again");
  // Another payer's resource with the same id is another row.
  ASSERT_EQ(Write(*store, FileCtx("Observation", kT1, 5, "m-9", "acme"), {"o1"}, "b"), "ok");
  EXPECT_EQ(Rows("Observation"),
            "acme|o1|m-9|2025-01-01 00:00:00|5|b\n"
            "bison|o1|m-1|2025-01-01 00:00:00|4|a\n"
            "bison|o2|m-1|2025-01-01 00:00:00|4|a\n"
            "bison|o3|m-1|2025-01-01 00:00:00|6|again");
}

TEST_F(PgStoreTest, AnOlderExportNeverOverwritesANewerOne) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(Write(*store, FileCtx("Claim", kT2, 2), {"c1", "c2"}, "t2"), "ok");
  // A retried download of an older export: its copies lose, its new ids land.
  ASSERT_EQ(Write(*store, FileCtx("Claim", kT1, 1), {"c1", "c2", "c3"}, "t1"), "ok");
  EXPECT_EQ(Rows("Claim"),
            "bison|c1|m-1|2025-02-01 00:00:00|2|t2\n"
            "bison|c2|m-1|2025-02-01 00:00:00|2|t2\n"
            "bison|c3|m-1|2025-01-01 00:00:00|1|t1");
  ASSERT_EQ(Write(*store, FileCtx("Claim", kT3, 3), {"c1", "c3"}, "t3"), "ok");
  EXPECT_EQ(Rows("Claim"),
            "bison|c1|m-1|2025-03-01 00:00:00|3|t3\n"
            "bison|c2|m-1|2025-02-01 00:00:00|2|t2\n"
            "bison|c3|m-1|2025-03-01 00:00:00|3|t3");
}

TEST_F(PgStoreTest, BigFileIsMergedInChunksAndEndsComplete) {
  PostgresStore::Tuning tuning;
  tuning.handoff_bytes = 1024;
  tuning.chunk_bytes = 4096;
  auto store = Open(tuning);
  ASSERT_NE(store, nullptr);
  auto w = store->Begin(FileCtx("Observation", kT1, 1));
  ASSERT_TRUE(w) << ErrorText(w);
  const std::string pad(40, 'x');
  constexpr int kRows = 400;  // about 28 KiB of lines: several chunks
  ASSERT_EQ(ErrorText((*w)->Put("o0", Resource("Observation", "o0", "early"))), "ok");
  for (int i = 1; i < kRows; ++i) {
    const std::string id = "o" + std::to_string(i);
    ASSERT_EQ(ErrorText((*w)->Put(id, Resource("Observation", id, pad))), "ok");
  }
  // Every full chunk is merged (committed) before the file ends.
  const int64_t merged = Counts(*store)["Observation"];
  EXPECT_GT(merged, 0);
  EXPECT_LT(merged, kRows);
  // A later copy in the file, in another chunk, still wins.
  ASSERT_EQ(ErrorText((*w)->Put("o0", Resource("Observation", "o0", "late"))), "ok");
  ASSERT_EQ(ErrorText((*w)->Commit()), "ok");
  EXPECT_EQ(Counts(*store), (std::map<std::string, int64_t>{{"Observation", kRows}}));
  EXPECT_EQ(Sql("SELECT resource->>'v' FROM p2p.\"Observation\" WHERE id = 'o0'"), "late");
  EXPECT_EQ(Sql("SELECT count(*) FROM p2p.\"Observation\" WHERE resource->>'v' = '" + pad +
                "' AND job_id = 1 AND member_key = 'm-1'"),
            std::to_string(kRows - 1));
}

// Autovacuum never reaches a temporary table: without the store's own VACUUM its staging table
// would keep every merged row's dead tuple for as long as the session lasts.
TEST_F(PgStoreTest, TheStagingTableStaysSmallOverManyMerges) {
  PostgresStore::Tuning tuning;
  tuning.handoff_bytes = 16 * 1024;
  tuning.chunk_bytes = 32 * 1024;
  auto store = Open(tuning);
  ASSERT_NE(store, nullptr);
  const std::string pad(900, 'x');
  constexpr int kFiles = 8, kRows = 400;  // about 3 MiB through the staging table
  int64_t peak = 0;
  for (int f = 0; f < kFiles; ++f) {
    auto w = store->Begin(FileCtx("Observation", kT1, 1 + f));
    ASSERT_TRUE(w) << ErrorText(w);
    for (int i = 0; i < kRows; ++i) {
      const std::string id = "o" + std::to_string(f) + "-" + std::to_string(i);
      ASSERT_EQ(ErrorText((*w)->Put(id, Resource("Observation", id, pad))), "ok");
      if (i % 100 == 99) {  // mid-file: a chunk's rows staged, the dead ones of earlier merges
        const std::string bytes = Sql(
            "SELECT coalesce(sum(pg_relation_size(oid)), 0) FROM pg_class "
            "WHERE relpersistence = 't' AND relname = 'p2p_stage'");
        peak = std::max<int64_t>(peak, std::stoll(bytes));
      }
    }
    ASSERT_EQ(ErrorText((*w)->Commit()), "ok");
  }
  EXPECT_EQ(Counts(*store), (std::map<std::string, int64_t>{{"Observation", kFiles * kRows}}));
  EXPECT_GT(peak, 0);  // the query sees the staging table
  EXPECT_LT(peak, 1 << 20) << "staging table bytes";
}

TEST_F(PgStoreTest, AbortDropsTheUnmergedRowsOfThatFileOnly) {
  PostgresStore::Tuning tuning;
  tuning.handoff_bytes = 512;  // buffers that hold both files' rows
  tuning.chunk_bytes = 4096;
  auto store = Open(tuning);
  ASSERT_NE(store, nullptr);
  auto aborted = store->Begin(FileCtx("Encounter", kT1, 1));
  auto kept = store->Begin(FileCtx("Encounter", kT1, 2, "m-2"));
  ASSERT_TRUE(aborted && kept);
  const std::string pad(40, 'y');
  constexpr int kRows = 200;
  for (int i = 0; i < kRows; ++i) {
    const std::string a = "a" + std::to_string(i), k = "k" + std::to_string(i);
    ASSERT_EQ(ErrorText((*aborted)->Put(a, Resource("Encounter", a, pad))), "ok");
    ASSERT_EQ(ErrorText((*kept)->Put(k, Resource("Encounter", k, pad))), "ok");
  }
  (*aborted)->Abort();
  ASSERT_EQ(ErrorText((*kept)->Commit()), "ok");
  EXPECT_EQ(Sql("SELECT count(*) FROM p2p.\"Encounter\" WHERE job_id = 2 AND member_key = 'm-2'"),
            std::to_string(kRows));
  // The aborted file's full chunks were committed before; the rest of it is gone.
  const std::string aborted_rows = Sql("SELECT count(*) FROM p2p.\"Encounter\" WHERE job_id = 1");
  EXPECT_GT(std::stoi(aborted_rows), 0);
  EXPECT_LT(std::stoi(aborted_rows), kRows);
  // A file that aborts before its first chunk leaves nothing; the next file is not hurt.
  auto small = store->Begin(FileCtx("Encounter", kT1, 3));
  ASSERT_TRUE(small);
  ASSERT_EQ(ErrorText((*small)->Put("s1", Resource("Encounter", "s1", "x"))), "ok");
  (*small)->Abort();
  ASSERT_EQ(Write(*store, FileCtx("Encounter", kT1, 4), {"n1"}, "x"), "ok");
  EXPECT_EQ(Sql("SELECT string_agg(id, ',') FROM p2p.\"Encounter\" WHERE job_id IN (3, 4)"), "n1");
}

TEST_F(PgStoreTest, DeleteRemovesThatPayersRowsAndCountsThem) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 1), {"p1", "p2"}, "a"), "ok");
  ASSERT_EQ(Write(*store, FileCtx("Observation", kT1, 1), {"o1", "o2"}, "a"), "ok");
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 2, "m-1", "acme"), {"p1"}, "a"), "ok");

  // A ref that is not a FHIR id refuses the whole deletion.
  for (const char* bad : {"o1'); DELETE FROM p2p.\"Patient\" --", "", "o 1", "o1,o2"}) {
    auto d = store->Delete("bison", 3, {{"Patient", "p1"}, {"Observation", bad}});
    EXPECT_EQ(ErrorText(d),
              "invalid: deleted resource of type Observation: id is not a FHIR id "
              "([A-Za-z0-9.-]{1,64})")
        << bad;
  }
  EXPECT_EQ(ErrorText(store->Delete("bison", 3, {{"patient", "p1"}})).substr(0, 9), "invalid: ");
  EXPECT_EQ(Counts(*store), (std::map<std::string, int64_t>{{"Observation", 2}, {"Patient", 3}}));

  // Refs not stored and types without a table are no error.
  auto d = store->Delete(
      "bison", 3,
      {{"Patient", "p1"}, {"Observation", "o2"}, {"Observation", "o9"}, {"Condition", "c1"}});
  ASSERT_TRUE(d) << ErrorText(d);
  EXPECT_EQ(d->removed, 2);
  EXPECT_TRUE(d->marks.empty());
  EXPECT_EQ(Scanned(*store, "Patient"), (std::set<std::string>{"acme|m-1|p1", "bison|m-1|p2"}));
  EXPECT_EQ(Scanned(*store, "Observation"), std::set<std::string>{"bison|m-1|o1"});
  auto none = store->Delete("bison", 3, {});
  ASSERT_TRUE(none) << ErrorText(none);
  EXPECT_EQ(none->removed, 0);
}

TEST_F(PgStoreTest, PurgeMemberRemovesEveryTypeOfThatMemberOnly) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto nothing = store->PurgeMember("bison", "m-1");  // no table at all yet
  ASSERT_TRUE(nothing) << ErrorText(nothing);
  EXPECT_EQ(nothing->removed, 0);

  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 1), {"p1"}, "a"), "ok");
  ASSERT_EQ(Write(*store, FileCtx("Observation", kT1, 1), {"o1", "o2"}, "a"), "ok");
  ASSERT_EQ(Write(*store, FileCtx("Observation", kT1, 2, "m-2"), {"o3"}, "a"), "ok");
  ASSERT_EQ(Write(*store, FileCtx("Observation", kT1, 3, "m-1", "acme"), {"o1"}, "a"), "ok");

  auto purged = store->PurgeMember("bison", "m-1");
  ASSERT_TRUE(purged) << ErrorText(purged);
  EXPECT_EQ(purged->removed, 3);
  EXPECT_TRUE(purged->marks.empty());
  EXPECT_EQ(Scanned(*store, "Patient"), std::set<std::string>{});
  EXPECT_EQ(Scanned(*store, "Observation"), (std::set<std::string>{"acme|m-1|o1", "bison|m-2|o3"}));
  EXPECT_EQ(Counts(*store), (std::map<std::string, int64_t>{{"Observation", 2}}));
}

TEST_F(PgStoreTest, NulEscapeFailsThePutAnEscapedBackslashDoesNot) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (const char* name : {R"(a\u0000b)", R"(a\\\u0000b)"}) {
    auto w = store->Begin(FileCtx("Patient", kT1, 1));
    ASSERT_TRUE(w);
    const std::string line =
        R"({"resourceType":"Patient","id":"n1","name":")" + std::string(name) + R"("})";
    EXPECT_EQ(ErrorText((*w)->Put("n1", line)),
              "invalid: resource n1 holds a \\u0000 escape, which PostgreSQL's jsonb "
              "cannot store")
        << name;
    (*w)->Abort();
  }
  auto w = store->Begin(FileCtx("Patient", kT1, 1));
  ASSERT_TRUE(w);
  const std::string line = R"({"resourceType":"Patient","id":"n2","name":"a\\u0000b"})";
  ASSERT_EQ(ErrorText((*w)->Put("n2", line)), "ok");
  ASSERT_EQ(ErrorText((*w)->Commit()), "ok");
  EXPECT_EQ(Sql("SELECT resource->>'name' FROM p2p.\"Patient\""), R"(a\u0000b)");
  EXPECT_EQ(Counts(*store), (std::map<std::string, int64_t>{{"Patient", 1}}));
}

// The line checker (simdjson) accepts 1e-20000; jsonb's numeric cannot hold it. Only the file
// with that resource fails; a file whose rows went to the server with it keeps them.
TEST_F(PgStoreTest, AResourceJsonbRefusesFailsItsFileOnly) {
  PostgresStore::Tuning tuning;
  tuning.handoff_bytes = 512;  // buffers that hold both files' rows
  auto store = Open(tuning);
  ASSERT_NE(store, nullptr);
  auto bad = store->Begin(FileCtx("Patient", kT1, 1));
  auto good = store->Begin(FileCtx("Patient", kT1, 2, "m-2"));
  ASSERT_TRUE(bad && good);
  for (int i = 0; i < 40; ++i) {
    const std::string b = "b" + std::to_string(i), g = "g" + std::to_string(i);
    const std::string line = i == 20 ? R"({"resourceType":"Patient","id":"b20","n":1e-20000})"
                                     : Resource("Patient", b, "x");
    (void)(*bad)->Put(b, line);  // a later Put may report the failure
    ASSERT_EQ(ErrorText((*good)->Put(g, Resource("Patient", g, "x"))), "ok");
  }
  EXPECT_EQ(ErrorText((*bad)->Commit()),
            "invalid: COPY into staging: value overflows numeric format (SQLSTATE 22003)");
  EXPECT_EQ(ErrorText((*good)->Commit()), "ok");
  EXPECT_EQ(Sql("SELECT count(*), min(member_key), max(member_key) FROM p2p.\"Patient\""),
            "40|m-2|m-2");
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 3), {"b1"}, "x"), "ok");
  EXPECT_EQ(Counts(*store), (std::map<std::string, int64_t>{{"Patient", 41}}));
}

}  // namespace
}  // namespace p2p::store
