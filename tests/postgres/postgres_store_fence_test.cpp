// The PostgreSQL store sharing its database with the PostgreSQL job state (StoreOptions::
// state_schema): a file's rows and its "done" statements commit in one transaction, and only
// while the job's lease is still the writer's (fencing). A stand-in members table in schema
// p2p_state plays the state's (the store reads only id, lease_owner and lease_epoch).
#include <gtest/gtest.h>

#include "postgres/postgres_store_fixture.h"

namespace p2p::store {
namespace {

class PgStoreFenceTest : public PgStoreTest {
 protected:
  void SetUp() override {
    PgStoreTest::SetUp();
    ASSERT_EQ(Sql("CREATE TABLE p2p_state.members (id bigint PRIMARY KEY, lease_owner text, "
                  "lease_epoch bigint NOT NULL DEFAULT 0);"
                  "CREATE TABLE p2p_state.files (job_id bigint, idx bigint, state bigint);"
                  "INSERT INTO p2p_state.members VALUES (7, 'me/1/1', 3);"
                  "INSERT INTO p2p_state.files VALUES (7, 0, 0);"
                  "GRANT ALL ON ALL TABLES IN SCHEMA p2p_state TO p2p_ingest;"),
              "");
  }

  std::unique_ptr<PostgresStore> OpenFenced() {
    StoreOptions o = Options();
    o.state_schema = "p2p_state";
    auto s = PostgresStore::Open(o, {});
    EXPECT_TRUE(s) << testing::ErrorText(s);
    return s ? std::move(*s) : nullptr;
  }

  // One file of job 7 leased as (owner, epoch), committed with the state's done statement.
  std::string WriteLeased(ResourceStore& store, const std::string& owner, int64_t epoch) {
    FileContext ctx = FileCtx("Patient", kT1, 7);
    ctx.lease_owner = owner;
    ctx.lease_epoch = epoch;
    auto w = store.Begin(ctx);
    if (!w) return testing::ErrorText(w);
    for (const char* id : {"p1", "p2"}) {
      if (auto p = (*w)->Put(id, Resource("Patient", id, "v")); !p) return testing::ErrorText(p);
    }
    EXPECT_TRUE((*w)->CommitWith(
        {{"UPDATE p2p_state.files SET state = $3 WHERE job_id = $1 AND idx = $2", {"7", "0", "1"}}}));
    auto c = (*w)->Commit();
    if (!c) return std::string(ErrorKindName(c.error().kind)) + ": " + c.error().message;
    return "ok";
  }
};

TEST_F(PgStoreFenceTest, RowsAndTheDoneMarkCommitTogetherWhileTheLeaseHolds) {
  auto store = OpenFenced();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(WriteLeased(*store, "me/1/1", 3), "ok");
  EXPECT_EQ(Sql("SELECT count(*) FROM p2p.\"Patient\""), "2");
  EXPECT_EQ(Sql("SELECT state FROM p2p_state.files"), "1");
}

TEST_F(PgStoreFenceTest, AnotherInstancesLeaseKeepsTheRowsAndTheDoneMarkOut) {
  auto store = OpenFenced();
  ASSERT_NE(store, nullptr);
  // Paused past its lease: the job was taken by another instance (new owner, epoch + 1).
  ASSERT_EQ(Sql("UPDATE p2p_state.members SET lease_owner = 'other/2/2', lease_epoch = 4"), "");
  const std::string r = WriteLeased(*store, "me/1/1", 3);
  EXPECT_EQ(r.rfind("lease_lost: ", 0), 0u) << r;
  EXPECT_EQ(Sql("SELECT count(*) FROM p2p.\"Patient\""), "0");
  EXPECT_EQ(Sql("SELECT state FROM p2p_state.files"), "0");
  // The same owner with an old epoch (it lost the job and took it back since) is refused too.
  ASSERT_EQ(Sql("UPDATE p2p_state.members SET lease_owner = 'me/1/1', lease_epoch = 5"), "");
  EXPECT_EQ(WriteLeased(*store, "me/1/1", 3).rfind("lease_lost: ", 0), 0u);
  EXPECT_EQ(Sql("SELECT count(*) FROM p2p.\"Patient\""), "0");
}

TEST_F(PgStoreFenceTest, AStoreWithoutTheStateSchemaLeavesTheDoneMarkToTheCaller) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto w = store->Begin(FileCtx("Patient", kT1, 7));
  ASSERT_TRUE(w);
  EXPECT_FALSE((*w)->CommitWith({{"UPDATE p2p_state.files SET state = 1", {}}}));
  (*w)->Abort();
}

}  // namespace
}  // namespace p2p::store
