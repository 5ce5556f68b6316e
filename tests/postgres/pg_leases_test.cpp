// Leases with the PostgreSQL state (state/cluster_db.cpp): two StateDb connections stand for two
// daemons of a cluster; time is passed in, so leases lapse without waiting. A lease that lapsed is
// the cluster's again: its owner, back from a pause, may not renew it (the payer's
// limits.concurrency would no longer hold cluster-wide), nor claim the job again while its old run
// goes on (the new lease would let that run's stale writes through the fence).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "postgres/pg_daemon_test.h"
#include "postgres/pg_query.h"
#include "state/sql.h"
#include "state/state_db.h"
#include "support/pg_cluster.h"

namespace p2p::testing {
namespace {

constexpr int64_t kLeaseMs = 5000;

// The cluster of PgDaemonTest; `a_` and `b_` joined it as two instances.
class PgLeases : public PgDaemonTest {
 protected:
  void SetUp() override {
    PgDaemonTest::SetUp();
    if (HasFatalFailure()) return;
    a_ = Open("a");
    b_ = Open("b");
    ASSERT_TRUE(a_ && b_);
  }

  std::unique_ptr<state::StateDb> Open(const std::string& name) {
    auto db = state::StateDb::OpenPostgres({pg_->Dsn(), pg_->password(), "p2p_state"});
    EXPECT_TRUE(db) << db.error().message;
    if (!db) return nullptr;
    state::InstanceInfo me;
    me.name = name;
    me.token = name + "/1/0";
    me.host = "test";
    me.version = "test";
    me.lease_ms = kLeaseMs;
    auto joined = (*db)->JoinCluster(me, {"bison"}, 0);
    EXPECT_TRUE(joined) << joined.error().message;
    return std::move(db).value();
  }

  // A member of payer bison with `deadline` (unix s), due at `next_ms`; its job id.
  int64_t AddJob(int deadline, int64_t next_ms) {
    std::string err;
    // The count triggers name their tables unqualified, as the daemon's search_path has them.
    auto id = pg_->Psql(
        "SET search_path TO p2p_state; INSERT INTO members(member_key, payer, state, row_json, "
        "deadline, consent_end, "
        "created_ms, updated_ms, next_ms) VALUES ('M" +
            std::to_string(deadline) + "', 'bison', 0, '{}', " + std::to_string(deadline) +
            ", 99999, 0, 0, " + std::to_string(next_ms) + ") RETURNING id",
        &err);
    EXPECT_TRUE(id) << err;
    return id ? std::stoll(*id) : 0;
  }

  // Leases of bison alive at `now_ms`, cluster-wide.
  int64_t LiveLeases(int64_t now_ms) {
    PgQuery q(*pg_);
    return q.Count(
        "SELECT COUNT(*) FROM p2p_state.members WHERE lease_owner IS NOT NULL AND "
        "lease_until_ms >= " +
        std::to_string(now_ms));
  }

  // The ids `db` claims of payer bison at `now_ms` (ClaimRunnable); none when the claim fails.
  std::vector<int64_t> Claim(state::StateDb& db, int64_t now_ms, int limit, int concurrency) {
    auto claim = db.ClaimRunnable("bison", now_ms, limit, concurrency, 0);
    EXPECT_TRUE(claim) << claim.error().message;
    return claim ? claim->ids : std::vector<int64_t>{};
  }

  // Whether a write of `job` by `db` would be refused: CheckLease in a transaction, as the job
  // saves run it, says kLeaseLost (any other error fails the test).
  bool LeaseLost(state::StateDb& db, int64_t job) {
    state::Transaction tx(db.handle());
    EXPECT_TRUE(tx.Begin());
    auto check = db.CheckLease(job);
    EXPECT_TRUE(check || check.error().kind == ErrorKind::kLeaseLost) << check.error().message;
    return !check;
  }

  // A job `a` leased at 1000 and `b` took at 7000, `a` being paused past its lease meanwhile.
  int64_t TakenOverFromA() {
    const int64_t job = AddJob(1, 0);
    EXPECT_EQ(Claim(*a_, 1000, 1, 1), std::vector<int64_t>{job});
    EXPECT_EQ(Claim(*b_, 7000, 1, 1), std::vector<int64_t>{job});
    return job;
  }

  // `a`'s old run of `job` ends (its lease lost): a claim by `a` at 7200, with room under the
  // payer's `concurrency`, takes the job again under a new lease.
  void ExpectRunnableAgainForA(int64_t job, int concurrency) {
    EXPECT_TRUE(a_->ReleaseLease(job));
    EXPECT_EQ(Claim(*a_, 7200, 1, concurrency), std::vector<int64_t>{job});
    EXPECT_FALSE(LeaseLost(*a_, job));
  }

  std::unique_ptr<state::StateDb> a_, b_;
};

TEST_F(PgLeases, ARenewalInTimeKeepsTheLease) {
  const int64_t job = AddJob(3, 0);
  ASSERT_EQ(Claim(*a_, 1000, 1, 1), std::vector<int64_t>{job});
  auto held = a_->RenewLeases(1000 + kLeaseMs - 1);
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_EQ(*held, 1);
  EXPECT_EQ(LiveLeases(1000 + 2 * kLeaseMs - 1), 1);
  EXPECT_FALSE(LeaseLost(*a_, job));
}

TEST_F(PgLeases, ALapsedLeaseIsNotRevivedPastTheClustersConcurrency) {
  // Jobs 1 and 2 come first by deadline but are not due yet; job 3 is.
  const int64_t first = AddJob(1, 5000);
  const int64_t second = AddJob(2, 5000);
  const int64_t third = AddJob(3, 0);
  ASSERT_EQ(Claim(*a_, 1000, 2, 2), std::vector<int64_t>{third});
  // `a` pauses past its lease (until 6000); meanwhile jobs 1 and 2 fall due and `b` takes both
  // slots of the payer's concurrency 2 (job 3's lapsed lease is free again, and comes last).
  EXPECT_EQ(Claim(*b_, 7000, 2, 2), (std::vector<int64_t>{first, second}));
  // `a` wakes up and renews: the lapsed lease stays lapsed, the job is lost to `a`.
  auto held = a_->RenewLeases(7100);
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_EQ(*held, 0);
  EXPECT_EQ(LiveLeases(7100), 2);
  EXPECT_TRUE(LeaseLost(*a_, third));
  // The job is runnable again: once `a`'s old run of it ended, a claim with room takes it.
  ExpectRunnableAgainForA(third, 3);
}

TEST_F(PgLeases, AJobWhoseLeaseWasLostIsNotClaimedAgainWhileItsOldRunGoesOn) {
  const int64_t job = TakenOverFromA();
  ASSERT_TRUE(b_->ReleaseLease(job));  // `b` ran a step and gives the job back (it waits)
  // `a` wakes up; its old run of the job has not ended yet. A claim must not lease the job to
  // `a` again: the new lease would let the old run's stale writes through the fence.
  EXPECT_TRUE(Claim(*a_, 7100, 1, 1).empty());
  EXPECT_TRUE(LeaseLost(*a_, job));
  // The old run ends: now `a` may take the job like any instance.
  ExpectRunnableAgainForA(job, 1);
}

TEST_F(PgLeases, AReleaseAfterATakeoverSaysSoAndLeavesTheNewLease) {
  // `a` paused between its run's last write and the release.
  const int64_t job = TakenOverFromA();
  auto released = a_->ReleaseLease(job);
  ASSERT_FALSE(released);
  EXPECT_EQ(released.error().kind, ErrorKind::kLeaseLost);
  EXPECT_EQ(released.error().message,
            "job " + std::to_string(job) +
                ": its lease lapsed before its run gave it back (another instance may run it now)");
  EXPECT_EQ(
      pg_->Psql("SELECT lease_owner FROM p2p_state.members WHERE id = " + std::to_string(job)),
      "b/1/0");
  EXPECT_TRUE(b_->ReleaseLease(job));
}

}  // namespace
}  // namespace p2p::testing
