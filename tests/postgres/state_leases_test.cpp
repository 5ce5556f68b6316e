// The lease rules of a cluster sharing a PostgreSQL state (state_db.h "cluster",
// cluster_db.cpp), with two StateDb objects on one schema as two daemons: a payer's concurrency
// holds across them, a claim never takes a job another live instance holds or an operator's
// command has locked, an expired lease is taken over and the old holder's writes are fenced
// (kLeaseLost, nothing written), renewals keep leases and notice lost ones, a terminal save and
// a release give the lease back, shared throttling holds every instance back. StateClaims runs
// on both backends (SQLite, one daemon, gives the single-instance answers); StateLeases only on
// PostgreSQL (SQLite has no leases to lose).
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "postgres/state_backend.h"
#include "state/sql.h"

namespace p2p::state {
namespace {

class StateClaims : public StateBackendTest {
 protected:
  void SetUp() override {
    StateBackendTest::SetUp();
    if (HasFatalFailure()) return;
    std::vector<NewMember> members;
    for (int i = 0; i < 8; ++i) members.push_back(Member("m" + std::to_string(i), 100 + 10 * i));
    ASSERT_TRUE(db_->TakeIn("a.csv", members, 0, 1));
    a_ = Open();
    b_ = Open();
    ASSERT_TRUE(a_ && b_);
    ASSERT_TRUE(a_->JoinCluster(Instance("a", 1000), {"bison"}, 0));
    ASSERT_TRUE(b_->JoinCluster(Instance("b", 1000), {"bison"}, 0));
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    StateBackendTest::TearDown();
  }
  std::vector<int64_t> Claim(StateDb& db, int64_t now_ms, int limit, int concurrency,
                             int64_t* cluster_running = nullptr) {
    auto c = db.ClaimRunnable("bison", now_ms, limit, concurrency, 0);
    EXPECT_TRUE(c) << c.error().message;
    if (!c) return {};
    if (cluster_running != nullptr) *cluster_running = c->cluster_running;
    return c->ids;
  }
  std::string Owner(int64_t id) {
    auto st = Stmt::Prepare(db_->handle(),
                            "SELECT COALESCE(lease_owner, '-') FROM members WHERE id=?1");
    EXPECT_TRUE(st);
    st->Bind(1, id);
    return *st->Step("owner") ? st->Text(0) : "?";
  }

  std::unique_ptr<StateDb> a_, b_;
};

TEST_P(StateClaims, APayersConcurrencyHoldsAcrossInstances) {
  if (!postgres()) {
    // One daemon: the runnable jobs, running ones included (the caller skips those it runs).
    EXPECT_EQ(Claim(*a_, 10, 2, 3).size(), 2u);
    auto c = a_->ClaimRunnable("bison", 10, 2, 3, 4);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->ids.size(), 6u);
    EXPECT_EQ(*a_->LiveInstances(10), 1);
    EXPECT_EQ(*a_->RenewLeases(10), 0);
    EXPECT_EQ(a_->leases_held(), 0);
    return;
  }
  int64_t running = -1;
  EXPECT_EQ(Claim(*a_, 10, 10, 3, &running), (std::vector<int64_t>{1, 2, 3}));  // earliest deadline
  EXPECT_EQ(running, 0);
  EXPECT_TRUE(Claim(*b_, 10, 10, 3, &running).empty());
  EXPECT_EQ(running, 3);
  EXPECT_EQ(a_->leases_held(), 3);
  EXPECT_EQ(Owner(1), "a/1/0");
  // A terminal save gives the lease back in the same write: b may take one more.
  ASSERT_TRUE(Move(*a_, 2, JobState::kComplete));
  EXPECT_EQ(Owner(2), "-");
  EXPECT_EQ(a_->leases_held(), 2);
  EXPECT_EQ(Claim(*b_, 10, 10, 3), (std::vector<int64_t>{4}));
  // A release (the run waits) too; a larger concurrency lets both take the rest, never twice.
  ASSERT_TRUE(a_->ReleaseLease(1));
  EXPECT_EQ(Owner(1), "-");
  EXPECT_EQ(a_->leases_held(), 1);
  std::vector<int64_t> more = Claim(*a_, 10, 2, 8);
  std::vector<int64_t> rest = Claim(*b_, 10, 10, 8);
  EXPECT_EQ(more, (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(rest, (std::vector<int64_t>{6, 7, 8}));
  EXPECT_EQ(*a_->LiveInstances(10), 2);
}

TEST_P(StateClaims, AThrottledPayerHoldsEveryInstanceBack) {
  if (!postgres()) {
    EXPECT_TRUE(a_->ShareThrottle("bison", 5000));  // no-op
    EXPECT_EQ(Claim(*a_, 10, 8, 8).size(), 8u);
    return;
  }
  ASSERT_TRUE(a_->ShareThrottle("bison", 5000));
  ASSERT_TRUE(b_->ShareThrottle("bison", 4000));  // never shortens it
  auto c = b_->ClaimRunnable("bison", 10, 5, 5, 0);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->ids.empty());
  EXPECT_EQ(c->throttled_until_ms, 5000);
  EXPECT_EQ(Claim(*b_, 5001, 1, 5), (std::vector<int64_t>{1}));
}

// Leases, PostgreSQL only.
using StateLeases = StateClaims;

TEST_P(StateLeases, ASecondInstanceTakesAnExpiredLeaseAndTheFirstIsFenced) {
  ASSERT_EQ(Claim(*a_, 10, 1, 5), (std::vector<int64_t>{1}));
  auto stale = a_->LoadJob(1);
  ASSERT_TRUE(stale);
  // a's lease (1000 ms) is still live at 900: b passes the job over.
  EXPECT_EQ(Claim(*b_, 900, 1, 5), (std::vector<int64_t>{2}));
  // a was paused past it: at 1500 b takes job 1 over and saves its progress.
  EXPECT_EQ(Claim(*b_, 1500, 1, 5), (std::vector<int64_t>{1}));
  EXPECT_EQ(Owner(1), "b/1/0");
  ASSERT_TRUE(Move(*b_, 1, JobState::kMatching, 1501));
  // a wakes up: every write of the job is refused, nothing is written.
  stale->state = JobState::kFailed;
  auto r = a_->SaveJob(*stale, JobState::kPending, 1600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kLeaseLost);
  EXPECT_EQ(r.error().message,
            "job 1: its lease lapsed (another instance may run it now); this instance stops it");
  FileRow f{1, 0, FileKind::kOutput, "Patient", "http://h/p", FileState::kDone};
  EXPECT_EQ(a_->FileDone(f, {}, std::nullopt).error().kind, ErrorKind::kLeaseLost);
  EXPECT_EQ(a_->SaveFileAttempts(1, 0, 3).error().kind, ErrorKind::kLeaseLost);
  EXPECT_EQ(a_->LoadJob(1)->state, JobState::kMatching);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM events WHERE job_id=1"), 1);  // b's transition only
  EXPECT_EQ(a_->leases_held(), 0);
  // Its release must not free b's lease.
  ASSERT_TRUE(a_->ReleaseLease(1));
  EXPECT_EQ(Owner(1), "b/1/0");
  EXPECT_EQ(Scalar("SELECT lease_epoch FROM members WHERE id=1"), 2);
}

TEST_P(StateLeases, RenewalsKeepLeasesAliveAndNoticeLostOnes) {
  ASSERT_EQ(Claim(*a_, 0, 2, 5), (std::vector<int64_t>{1, 2}));
  auto held = a_->RenewLeases(900);
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_EQ(*held, 2);
  EXPECT_EQ(Scalar("SELECT MIN(lease_until_ms) FROM members WHERE lease_owner='a/1/0'"), 1900);
  EXPECT_EQ(Scalar("SELECT heartbeat_ms FROM instances WHERE id='a/1/0'"), 900);
  // Renewed: still a's at 1500; at 2000 (a did not renew again) b takes both.
  EXPECT_EQ(Claim(*b_, 1500, 5, 8), (std::vector<int64_t>{3, 4, 5, 6, 7}));
  // b's five live leases leave room for three: a's two lapsed ones first (earliest deadline).
  EXPECT_EQ(Claim(*b_, 2000, 5, 8), (std::vector<int64_t>{1, 2, 8}));
  EXPECT_EQ(*a_->RenewLeases(2100), 0);  // both lost: a's runs stop at their next write
  EXPECT_EQ(a_->leases_held(), 0);
  EXPECT_EQ(Move(*a_, 1, JobState::kMatching).error().kind, ErrorKind::kLeaseLost);
  EXPECT_EQ(*b_->RenewLeases(2100), 8);
  // b's heartbeat is 2100, a's too; an instance whose heartbeat is older than its lease is dead.
  EXPECT_EQ(*b_->LiveInstances(2100), 2);
  EXPECT_EQ(*b_->LiveInstances(3200), 1);  // none alive by their heartbeats: this one counts
  ASSERT_TRUE(b_->LeaveCluster(2200));
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM members WHERE lease_owner IS NOT NULL"), 0);
  EXPECT_EQ(*a_->LiveInstances(2200), 1);
}

TEST_P(StateLeases, AClaimPassesOverAJobAnOperatorsCommandHoldsLocked) {
  auto op = Open();  // the operator's command, mid-transaction
  Transaction tx(op->handle());
  ASSERT_TRUE(tx.Begin());
  ASSERT_TRUE(Exec(op->handle(), "SELECT id FROM members WHERE id=1 FOR UPDATE", "lock"));
  EXPECT_EQ(Claim(*a_, 10, 2, 5), (std::vector<int64_t>{2, 3}));  // neither waits nor takes job 1
  ASSERT_TRUE(tx.Commit());
  EXPECT_EQ(Claim(*b_, 10, 2, 5), (std::vector<int64_t>{1, 4}));
}

TEST_P(StateLeases, ConcurrentClaimsOfTwoInstancesNeverShareAJob) {
  std::vector<NewMember> members;
  for (int i = 0; i < 200; ++i) members.push_back(Member("n" + std::to_string(i), 500 + i));
  ASSERT_TRUE(db_->TakeIn("b.csv", members, 0, 1));
  std::set<int64_t> taken_a, taken_b;
  std::thread other([&] {
    for (int round = 0; round < 60; ++round) {
      for (int64_t id : Claim(*b_, 10, 3, 1000)) taken_b.insert(id);
    }
  });
  for (int round = 0; round < 60; ++round) {
    for (int64_t id : Claim(*a_, 10, 3, 1000)) taken_a.insert(id);
  }
  other.join();
  EXPECT_EQ(taken_a.size() + taken_b.size(), 208u);
  for (int64_t id : taken_a) EXPECT_EQ(taken_b.count(id), 0u) << id;
  EXPECT_EQ(static_cast<size_t>(a_->leases_held()), taken_a.size());
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM members WHERE lease_owner IS NULL"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, StateClaims, kStateBackends, BackendName);
INSTANTIATE_TEST_SUITE_P(Postgres, StateLeases, ::testing::Values(Dialect::kPostgres), BackendName);

}  // namespace
}  // namespace p2p::state
