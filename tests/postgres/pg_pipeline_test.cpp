// The daemon end to end against p2p-sandbox with the PostgreSQL store (store.kind: postgres), both
// flavors, 200 members, with the SQLite job state and with the PostgreSQL one: every member reaches the outcome expected.json gives and the type
// tables hold exactly the expected (member_key, id) pairs per type, read by SQL as the
// superuser; the same roster dropped again adds no row.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "postgres/pg_daemon_test.h"

namespace p2p::testing {
namespace {

class PgPipeline : public PgDaemonTest {
 protected:
  // Runs the roster once, compares with expected.json, then drops the same file again.
  void RunTwiceAndCompare(const std::string& flavor, const std::string& state = "sqlite") {
    HarnessOptions o = Options();
    o.flavor = flavor;
    o.state = state;
    DaemonHarness h(o);
    ASSERT_EQ(h.Start(), "");
    h.DropRoster("members.csv");
    ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
    EXPECT_EQ(DiffFromExpected(h), "") << h.last_run().out;
    const int64_t rows = StoredRows();
    EXPECT_GT(rows, 1000);
    if (state == "postgres") {
      // Each file's done mark went with its rows (one database: one transaction), none is left
      // pending, and no job keeps a lease.
      EXPECT_GT(h.CountRows("SELECT COUNT(*) FROM files WHERE state=1"), 200);
      EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM files WHERE state<>1"), 0);
      EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE lease_owner IS NOT NULL"), 0);
    }
    const Expected before = h.LoadStore();

    h.DropRoster("members-again.csv");
    ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
    EXPECT_TRUE(std::filesystem::exists(h.inbox() / "processed" / "members-again.csv"));
    EXPECT_EQ(StoredRows(), rows);
    EXPECT_TRUE(h.LoadStore().resources == before.resources);
    EXPECT_EQ(DiffFromExpected(h), "");
  }
};

TEST_F(PgPipeline, OneUpFlavorMatchesExpectedExactlyAndTheSameDropAgainAddsNoRow) {
  RunTwiceAndCompare("1up");
}

TEST_F(PgPipeline, BulkV2FlavorMatchesExpectedExactlyAndTheSameDropAgainAddsNoRow) {
  RunTwiceAndCompare("bulk-v2");
}

// The same with the job state in PostgreSQL too (state.kind: postgres), as a cluster runs.
TEST_F(PgPipeline, OneUpFlavorWithThePostgresStateMatchesExpectedExactly) {
  RunTwiceAndCompare("1up", "postgres");
}

TEST_F(PgPipeline, BulkV2FlavorWithThePostgresStateMatchesExpectedExactly) {
  RunTwiceAndCompare("bulk-v2", "postgres");
}

}  // namespace
}  // namespace p2p::testing
