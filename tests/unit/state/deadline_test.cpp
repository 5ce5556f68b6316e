// StateDb::DeadlineReport and the counts migrations/007_deadlines.sql keeps.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "state/migrations.h"
#include "state/sql.h"
#include "state/state_db.h"
#include "support/state_recount.h"
#include "support/temp_dir.h"

namespace p2p::state {

// Test output for a failed comparison (found by gtest through ADL).
void PrintTo(const DeadlineCounts& c, std::ostream* os) {
  *os << "{" << c.payer << " on_time=" << c.on_time << " late=" << c.late
      << " at_risk=" << c.at_risk << "}";
}

namespace {

constexpr int64_t kNowS = 1'800'000'000;
constexpr int64_t kDay = 86400;
constexpr int64_t kWindow = 2 * kDay;  // the default deadline.at_risk_within (48h)


class DeadlineDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = StateDb::Open(dir_.File("state.db"));
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(db).value();
  }

  // Takes in one member and returns its job id.
  int64_t Add(const std::string& payer, int64_t deadline) {
    NewMember m{"m" + std::to_string(++n_), payer, "{}", deadline, 30000, 2};
    EXPECT_TRUE(db_->TakeIn("f" + std::to_string(n_) + ".csv", {m}, 0, 1));
    return n_;
  }
  // Moves a job to `state`, first requested at `requested_ms` (0 = not yet), as the runner does.
  void Save(int64_t id, JobState state, int64_t requested_ms) {
    auto job = db_->LoadJob(id);
    ASSERT_TRUE(job) << job.error().message;
    const JobState previous = job->state;
    job->state = state;
    job->requested_ms = requested_ms;
    ASSERT_TRUE(db_->SaveJob(*job, previous, 5));
  }
  std::vector<DeadlineCounts> Report(int64_t now_s = kNowS, int64_t window = kWindow) {
    auto r = db_->DeadlineReport(now_s, window);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<DeadlineCounts>{};
  }
  // The counts the triggers keep, recomputed from the members rows.
  std::vector<DeadlineCounts> Recount(int64_t now_s = kNowS, int64_t window = kWindow) {
    return testing::RecountDeadlines(*db_, now_s, window);
  }

  testing::TempDir dir_{"p2p-deadline-"};
  std::unique_ptr<StateDb> db_;
  int64_t n_ = 0;
};

TEST_F(DeadlineDbTest, EmptyDatabaseReportsNoPayers) { EXPECT_TRUE(Report().empty()); }

TEST_F(DeadlineDbTest, RequestedInTheDeadlinesLastSecondIsOnTimeAndOneSecondLaterIsLate) {
  const int64_t deadline = kNowS - 10 * kDay;
  Save(Add("bison", deadline), JobState::kMatching, deadline * 1000 + 999);
  Save(Add("bison", deadline), JobState::kMatching, (deadline + 1) * 1000);
  // A later state keeps the member where its request put it.
  Save(Add("bison", deadline), JobState::kMatching, deadline * 1000);
  Save(3, JobState::kComplete, deadline * 1000);
  EXPECT_EQ(Report(), (std::vector<DeadlineCounts>{{"bison", 2, 1, 0}}));
}

TEST_F(DeadlineDbTest, WaitingMembersArePastAtRiskOrNeitherByTheirDeadline) {
  Add("bison", kNowS - 1);            // past: late
  Add("bison", kNowS);                // its last second has not passed: at risk
  Add("bison", kNowS + kWindow - 1);  // at risk
  Add("bison", kNowS + kWindow);      // outside the window
  Add("bison", kNowS + 30 * kDay);
  EXPECT_EQ(Report(), (std::vector<DeadlineCounts>{{"bison", 0, 1, 2}}));
  // A day later the clock alone moves them.
  EXPECT_EQ(Report(kNowS + kDay), (std::vector<DeadlineCounts>{{"bison", 0, 2, 2}}));
  // A zero window: nothing is at risk.
  EXPECT_EQ(Report(kNowS, 0), (std::vector<DeadlineCounts>{{"bison", 0, 1, 0}}));
}

TEST_F(DeadlineDbTest, TerminalMembersNeverRequestedCountNowhere) {
  Save(Add("bison", kNowS - kDay), JobState::kCancelled, 0);
  Save(Add("bison", kNowS + kDay), JobState::kConsentExpired, 0);
  EXPECT_TRUE(Report().empty());
  // An operator's requeue makes the member wait again.
  Save(1, JobState::kPending, 0);
  EXPECT_EQ(Report(), (std::vector<DeadlineCounts>{{"bison", 0, 1, 0}}));
}

TEST_F(DeadlineDbTest, PayersAreReportedSeparatelyInOrder) {
  Add("elk", kNowS - 1);
  Save(Add("bison", kNowS + kDay), JobState::kMatching, kNowS * 1000);
  Add("bison", kNowS + kDay);
  Add("aspen", kNowS + 60 * kDay);  // nothing to report for aspen
  EXPECT_EQ(Report(), (std::vector<DeadlineCounts>{{"bison", 1, 0, 1}, {"elk", 0, 1, 0}}));
}

TEST_F(DeadlineDbTest, TriggersKeepTheCountsEqualToARecountThroughEveryChange) {
  for (int i = 0; i < 40; ++i) {
    Add(i % 3 == 0 ? "elk" : "bison", kNowS + (i % 8 - 4) * kDay + (i % 2 ? 0 : kDay - 1));
  }
  for (int64_t id = 1; id <= 40; id += 3) Save(id, JobState::kMatching, (kNowS - id * 3600) * 1000);
  for (int64_t id = 2; id <= 40; id += 5) Save(id, JobState::kFailed, 0);
  Save(4, JobState::kComplete, (kNowS - 3 * 3600) * 1000);
  Conn* h = db_->handle();
  ASSERT_TRUE(Exec(h, "UPDATE members SET payer='elk' WHERE id IN (5, 6)", "move payer"));
  ASSERT_TRUE(Exec(h, "UPDATE members SET deadline=deadline+86400 WHERE id IN (7, 10, 11)", "move"));
  ASSERT_TRUE(Exec(h, "DELETE FROM members WHERE id IN (8, 13, 14)", "delete"));
  ASSERT_FALSE(Recount().empty());
  for (int64_t now : {kNowS - 5 * kDay, kNowS, kNowS + 3 * kDay}) {
    EXPECT_EQ(Report(now), Recount(now)) << "now " << now;
  }
  // Rows of days with no waiting member left are deleted, not kept at 0.
  auto zero = Stmt::Prepare(h, "SELECT COUNT(*) FROM deadline_unrequested WHERE n <= 0");
  ASSERT_TRUE(zero);
  ASSERT_TRUE(*zero->Step("zero rows"));
  EXPECT_EQ(zero->Int(0), 0);
}

TEST_F(DeadlineDbTest, MigrationCountsTheMembersAlreadyThere) {
  Add("elk", kNowS - 1);
  Save(Add("bison", kNowS + kDay), JobState::kMatching, (kNowS + 2 * kDay) * 1000);
  Add("bison", kNowS + kDay);
  const std::vector<DeadlineCounts> before = Report();
  // Back to the schema before 007, then 007 again, as on an upgrade.
  Conn* h = db_->handle();
  ASSERT_TRUE(Exec(h,
                   "DROP TRIGGER deadline_counts_insert; DROP TRIGGER deadline_counts_update; "
                   "DROP TRIGGER deadline_counts_delete; DROP TABLE deadline_requested; "
                   "DROP TABLE deadline_unrequested",
                   "downgrade"));
  for (const Migration& m : EmbeddedMigrations()) {
    if (m.version == 7) {
      ASSERT_TRUE(Exec(h, m.sql, "migration 007"));
    }
  }
  EXPECT_EQ(Report(), before);
  EXPECT_EQ(before, (std::vector<DeadlineCounts>{{"bison", 0, 1, 1}, {"elk", 0, 1, 0}}));
}

// A million members: the report reads the counts tables only (never the members rows or their
// indexes, never a temporary sort), and the numbers are right.
TEST_F(DeadlineDbTest, MillionMembersReadOnlyTheCountsTables) {
  Conn* h = db_->handle();
  const auto t0 = std::chrono::steady_clock::now();
  // Bulk-loaded without the per-row triggers and the members' own indexes (the report never
  // reads either), then counted once by migration 007's backfill, as an upgrade of a full
  // database does; the trigger test above covers the triggers.
  ASSERT_TRUE(Exec(h,
                   "BEGIN; DROP INDEX IF EXISTS members_active; DROP INDEX IF EXISTS members_runnable; "
                   "DROP INDEX IF EXISTS members_state; DROP INDEX IF EXISTS members_wake; "
                   "DROP TRIGGER deadline_counts_insert; DROP TRIGGER member_counts_insert; "
                   "DROP TRIGGER deadline_counts_update; DROP TRIGGER deadline_counts_delete; "
                   "DROP TABLE deadline_requested; DROP TABLE deadline_unrequested",
                   "drop triggers"));
  // Member i: payer bison or elk; deadline one of 400 days around now; every 4th requested (half
  // of those late), every 12th terminal.
  ASSERT_TRUE(Exec(h,
                   "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000000) "
                   "INSERT INTO members(member_key, payer, state, row_json, deadline, consent_end, "
                   "created_ms, updated_ms, requested_ms) "
                   "SELECT 'm'||i, CASE i%2 WHEN 0 THEN 'bison' ELSE 'elk' END, "
                   "CASE WHEN i%12=0 THEN 10 WHEN i%4=0 THEN 1 ELSE 0 END, '{}', " +
                       std::to_string(kNowS) +
                       " + (i%400 - 200) * 86400 + 86399, 30000, 0, 0, "
                       "CASE WHEN i%4=0 THEN (" +
                       std::to_string(kNowS) +
                       " + (i%400 - 200) * 86400 + 86399 + CASE WHEN i%8=0 THEN 1 ELSE 0 END) "
                       "* 1000 END FROM c",
                   "bulk insert"));
  for (const Migration& m : EmbeddedMigrations()) {
    if (m.version == 7) {
      ASSERT_TRUE(Exec(h, m.sql, "migration 007"));
    }
  }
  ASSERT_TRUE(Exec(h, "COMMIT", "commit"));
  std::printf("[ info     ] building 1,000,000 members: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count()));

  for (std::string_view sql : StateDb::DeadlineQueries()) {
    auto plan = Stmt::Prepare(h, "EXPLAIN QUERY PLAN " + std::string(sql));
    ASSERT_TRUE(plan) << plan.error().message;
    std::string details;
    for (;;) {
      auto row = plan->Step("plan");
      ASSERT_TRUE(row);
      if (!*row) break;
      details += plan->Text(3) + "\n";
    }
    std::printf("[ info     ] %s\n%s", std::string(sql).c_str(), details.c_str());
    EXPECT_NE(details.find("deadline_"), std::string::npos) << sql << ": " << details;
    EXPECT_EQ(details.find("members"), std::string::npos) << sql << ": " << details;
    EXPECT_EQ(details.find("TEMP B-TREE"), std::string::npos) << sql << ": " << details;
  }

  const auto t1 = std::chrono::steady_clock::now();
  const std::vector<DeadlineCounts> report = Report();
  std::printf("[ info     ] deadline report with 1,000,000 members: %.2f ms\n",
              static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::steady_clock::now() - t1)
                                      .count()) /
                  1000.0);
  // Per 400 consecutive i: requested (i%4 == 0, all bison) 100, late when i%8 == 0; waiting
  // bison i%400 in {2, 6, ..., 198} past; waiting elk: odd i%400 < 200 past, 201 at risk.
  EXPECT_EQ(report, (std::vector<DeadlineCounts>{{"bison", 125000, 250000, 0},
                                                 {"elk", 0, 250000, 2500}}));
  EXPECT_EQ(report, Recount());
}

}  // namespace
}  // namespace p2p::state
