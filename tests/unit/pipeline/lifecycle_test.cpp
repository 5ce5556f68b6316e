// Member lifecycle: the pure decisions of pipeline/lifecycle.h, the member source's
// lifecycle columns, and the state DB side (state/lifecycle_db.h) on a real SQLite DB with the
// real migrations.
#include "pipeline/lifecycle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/civil_date.h"
#include "core/job_state.h"
#include "source/member_file.h"
#include "state/lifecycle_db.h"

namespace p2p::pipeline::lifecycle {
namespace {

bool IsRow(const Result<bool>& r) { return r.ok() && *r; }

constexpr int64_t kDay = 24LL * 3600 * 1000;

state::LifecycleRow Concurrent(std::optional<int64_t> consent_end,
                               std::optional<int64_t> coverage_end) {
  state::LifecycleRow r;
  r.concurrent = true;
  r.consent_end_days = consent_end;
  r.coverage_end_days = coverage_end;
  return r;
}

TEST(NextRefreshDue, IsCompletionPlusIntervalWhileConsentAndCoverageLast) {
  const int64_t day100 = 100 * kDay + 5;
  struct Case {
    state::LifecycleRow row;
    int64_t interval_days;
    std::optional<int64_t> due;
  } cases[] = {
      {Concurrent(std::nullopt, std::nullopt), 90, day100 + 90 * kDay},
      {Concurrent(190, std::nullopt), 90, day100 + 90 * kDay},  // the last consent day still counts
      {Concurrent(189, std::nullopt), 90, std::nullopt},
      {Concurrent(400, 150), 90, std::nullopt},
      {Concurrent(400, 190), 90, day100 + 90 * kDay},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NextRefreshDue(c.row, day100, Millis(c.interval_days * kDay)), c.due);
  }
  state::LifecycleRow one_off;  // not concurrent
  EXPECT_EQ(NextRefreshDue(one_off, day100, Millis(kDay)), std::nullopt);
  state::LifecycleRow revoked = Concurrent(std::nullopt, std::nullopt);
  revoked.revoked_ms = 1;
  EXPECT_EQ(NextRefreshDue(revoked, day100, Millis(kDay)), std::nullopt);
}

TEST(ConsentStartMs, IsMidnightUtcOfTheDay) {
  EXPECT_EQ(ConsentStartMs("1970-01-02"), kDay);
  EXPECT_EQ(ConsentStartMs(""), 0);
  EXPECT_EQ(ConsentStartMs("soon"), 0);
}

MemberRow Row(std::string key, std::string concurrent = "", std::string revoked = "",
              std::string consent_start = "2027-01-01") {
  MemberRow r;
  r.member_key = std::move(key);
  r.prior_payer = "bison";
  r.consent_start = std::move(consent_start);
  r.consent_end = "2028-01-01";
  r.concurrent = std::move(concurrent);
  r.consent_revoked = std::move(revoked);
  return r;
}

TEST(SplitIntake, TakesRevocationsOutAndKeepsLifecycleRowsForConcurrentOrLaterConsent) {
  const int64_t today = *ParseCivilDate("2027-06-01");
  std::vector<std::pair<uint64_t, MemberRow>> rows = {
      {2, Row("a")},                                    // plain: nothing to record
      {3, Row("b", "true")},                            // concurrent
      {4, Row("c", "false", "true")},                   // revocation
      {5, Row("d", "false", "false", "2027-07-01")},    // consent starts later
  };
  IntakeSplit split = SplitIntake(rows, today);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].second.member_key, "d");
  ASSERT_EQ(split.revoked.size(), 1u);
  EXPECT_EQ(split.revoked[0], (std::pair<std::string, std::string>{"bison", "c"}));
  ASSERT_EQ(split.lifecycle.size(), 2u);
  EXPECT_EQ(split.lifecycle[0].member_key, "b");
  EXPECT_TRUE(split.lifecycle[0].concurrent);
  EXPECT_EQ(split.lifecycle[1].member_key, "d");
  EXPECT_EQ(split.lifecycle[1].consent_start_days, *ParseCivilDate("2027-07-01"));
}

// --- member source columns ---

constexpr const char* kHeader =
    "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,"
    "coverage_start,opt_in_date,consent_start,consent_end,consent_policy";

std::string CsvRow(const std::string& key, const std::string& lifecycle) {
  return key + ",bison,Ann,Person,1974-12-25,female,DH1,,2027-01-01,2027-01-03,2027-01-03," +
         "2028-01-03,regular," + lifecycle + "\n";
}

std::string Problems(const source::ParsedMembers& p) {
  std::string out;
  for (const RowProblem& r : p.problems) {
    out += std::to_string(r.line) + ": " + r.field + ": " + r.reason + "\n";
  }
  return out;
}

TEST(MemberFileLifecycleColumns, AreOptionalAndValidated) {
  const std::vector<std::string> payers = {"bison"};
  const std::string text = std::string(kHeader) + ",concurrent,coverage_end,consent_revoked\n" +
                           CsvRow("m1", "true,2027-12-31,false") + CsvRow("m2", ",,") +
                           CsvRow("m3", "yes,,") + CsvRow("m4", "false,2026-01-01,") +
                           CsvRow("m5", "false,31.12.2027,maybe") + CsvRow("m1", "false,,true");
  auto parsed = source::ParseMemberCsv(text, payers);
  EXPECT_EQ(Problems(parsed),
            "4: concurrent: must be true or false\n"
            "5: coverage_end: before coverage_start\n"
            "6: consent_revoked: must be true or false\n"
            "6: coverage_end: must be a date YYYY-MM-DD\n");
  ASSERT_EQ(parsed.rows.size(), 3u);
  EXPECT_TRUE(parsed.rows[0].second.IsConcurrent());
  EXPECT_EQ(parsed.rows[0].second.coverage_end, "2027-12-31");
  EXPECT_FALSE(parsed.rows[1].second.IsConcurrent());
  // A revocation of m1 in the same file is not a duplicate of its enrollment.
  EXPECT_EQ(parsed.rows[2].second.member_key, "m1");
  EXPECT_TRUE(parsed.rows[2].second.IsConsentRevoked());

  auto old_style = source::ParseMemberCsv(std::string(kHeader) + "\n" +
                                              CsvRow("m1", "").substr(0, CsvRow("m1", "").size() - 2) +
                                              "\n",
                                          payers);
  EXPECT_EQ(Problems(old_style), "");
  ASSERT_EQ(old_style.rows.size(), 1u);
  EXPECT_FALSE(old_style.rows[0].second.IsConcurrent());
}

TEST(MemberFileLifecycleColumns, NdjsonKeysAreRead) {
  const std::string line =
      R"({"member_key":"m1","prior_payer":"bison","given":"Ann","family":"P","birth_date":)"
      R"("1974-12-25","prior_coverage_id":"D","coverage_start":"2027-01-01","opt_in_date":)"
      R"("2027-01-01","consent_start":"2027-01-01","consent_end":"2028-01-01","consent_policy":)"
      R"("regular","concurrent":"true","coverage_end":"2027-06-30","consent_revoked":"false"})";
  auto parsed = source::ParseMemberNdjson(line + "\n", {"bison"});
  EXPECT_EQ(Problems(parsed), "");
  ASSERT_EQ(parsed.rows.size(), 1u);
  EXPECT_TRUE(parsed.rows[0].second.IsConcurrent());
  EXPECT_EQ(parsed.rows[0].second.coverage_end, "2027-06-30");
}

// --- state DB ---

class LifecycleDb : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("p2p-lifecycle-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    auto db = state::StateDb::Open((dir_ / "state.db").string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Inserts member `key` and drives its job to `state`; returns the job id.
  int64_t AddJob(const std::string& key, JobState s) {
    state::NewMember m{key, "bison", "{}", 0, 30000, 1};
    auto r = db_->TakeIn("f-" + key, {m}, 0, 1);
    EXPECT_TRUE(r.ok());
    auto ids = db_->Runnable("bisonx", 0, 1);  // (warm the statement; not used)
    (void)ids;
    int64_t id = 0;
    auto st = state::Stmt::Prepare(db_->handle(), "SELECT MAX(id) FROM members");
    if (st && IsRow(st->Step("max id"))) id = st->Int(0);
    auto job = db_->LoadJob(id);
    EXPECT_TRUE(job.ok());
    JobState prev = job->state;
    job->state = s;
    job->transaction_time = "2027-03-01T10:00:00.000Z";
    EXPECT_TRUE(db_->SaveJob(*job, prev, 2).ok());
    return id;
  }
  std::string Plan(const std::string& sql) {
    std::string plan;
    auto st = state::Stmt::Prepare(db_->handle(), "EXPLAIN QUERY PLAN " + sql);
    EXPECT_TRUE(st) << sql;
    while (st && IsRow(st->Step("plan"))) {
      plan += st->Text(3);
      plan += "\n";
    }
    return plan;
  }
  std::filesystem::path dir_;
  std::unique_ptr<state::StateDb> db_;
};

TEST_F(LifecycleDb, ADueRefreshOfACompleteJobStartsWithSinceTheLastTransactionTime) {
  const int64_t id = AddJob("m1", JobState::kComplete);
  ASSERT_TRUE(state::RecordLifecycle(*db_, {{"bison", "m1", true, 0, 30000, std::nullopt}}).ok());
  ASSERT_TRUE(state::SetRefreshDue(*db_, "bison", "m1", 1000).ok());
  auto none = StartDueRefreshes(*db_, "bison", 999, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
  auto started = StartDueRefreshes(*db_, "bison", 1000, 10);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(*started, 1);
  auto job = db_->LoadJob(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, JobState::kExporting);
  auto since = ExportSince(*db_, *job);
  ASSERT_TRUE(since.ok());
  EXPECT_EQ(*since, "2027-03-01T10:00:00.000Z");
  auto row = state::LoadLifecycle(*db_, "bison", "m1");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->refreshes, 1);
  EXPECT_EQ((*row)->refresh_due_ms, std::nullopt);
  // Completing again schedules the next one and forgets the since.
  ASSERT_TRUE(BeforeComplete(*db_, *job, Millis(kDay), 5000).ok());
  row = state::LoadLifecycle(*db_, "bison", "m1");
  EXPECT_EQ((*row)->refresh_due_ms, 5000 + kDay);
  EXPECT_EQ((*row)->since, "");
}

TEST_F(LifecycleDb, ARefreshDueAfterConsentEndedIsDroppedNotStarted) {
  const int64_t id = AddJob("m1", JobState::kComplete);
  ASSERT_TRUE(state::RecordLifecycle(*db_, {{"bison", "m1", true, 0, 10, std::nullopt}}).ok());
  ASSERT_TRUE(state::SetRefreshDue(*db_, "bison", "m1", 1000).ok());
  auto started = StartDueRefreshes(*db_, "bison", 20 * kDay, 10);
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(*started, 0);
  EXPECT_EQ(db_->LoadJob(id)->state, JobState::kComplete);
  EXPECT_EQ(state::LoadLifecycle(*db_, "bison", "m1")->value().refresh_due_ms, std::nullopt);
}

TEST_F(LifecycleDb, TheDueRefreshQueryUsesItsIndex) {
  const std::string plan = Plan(
      "SELECT m.id FROM member_lifecycle l JOIN members m ON m.member_key = l.member_key AND "
      "m.payer = l.payer AND m.state <= 6 AND +m.state = 6 WHERE l.payer = 'bison' AND "
      "l.refresh_due_ms IS NOT "
      "NULL AND l.refresh_due_ms <= 5 ORDER BY l.refresh_due_ms LIMIT 10");
  EXPECT_NE(plan.find("INDEX member_lifecycle_due (payer=? AND refresh_due_ms>? AND "
                      "refresh_due_ms<?)"),
            std::string::npos)
      << plan;
  EXPECT_NE(plan.find("USING INDEX members_active (member_key=? AND payer=?)"), std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("SCAN"), std::string::npos) << plan;
}

TEST_F(LifecycleDb, ARevocationCancelsTheActiveJobAndRequestsThePurgeOnce) {
  const int64_t id = AddJob("m1", JobState::kPolling);
  auto r = state::RecordRevocation(*db_, "bison", "m1", true, 7);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->job_id, id);
  EXPECT_TRUE(r->cancelled);
  EXPECT_TRUE(r->purge_requested);
  auto job = db_->LoadJob(id);
  EXPECT_EQ(job->state, JobState::kCancelled);
  EXPECT_EQ(job->error_class, "consent_revoked");
  auto pending = state::PendingPurges(*db_, "bison", 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].job_id, id);
  ASSERT_TRUE(state::PurgeDone(*db_, "bison", "m1", id, 12, {{"Observation", 40}}, 9).ok());
  auto row = state::LoadLifecycle(*db_, "bison", "m1");
  EXPECT_EQ((*row)->purged_ms, 9);
  EXPECT_EQ((*row)->purged_count, 12);
  EXPECT_FALSE((*row)->purge_requested);
  EXPECT_EQ(state::TombstoneMarks(*db_)->at("Observation"), 40);
  // The same revocation again (a crash before the source file moved): nothing more to do.
  auto again = state::RecordRevocation(*db_, "bison", "m1", true, 10);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->cancelled);
  EXPECT_FALSE(again->purge_requested);
  EXPECT_EQ(state::LoadLifecycle(*db_, "bison", "m1")->value().revoked_ms, 7);
}

TEST_F(LifecycleDb, OnceModeTreatsJobsWaitingForTheirConsentPeriodAsDone) {
  AddJob("m1", JobState::kPending);
  ASSERT_TRUE(state::RecordLifecycle(*db_, {{"bison", "m1", false, 500, 900, std::nullopt}}).ok());
  EXPECT_TRUE(*lifecycle::OnlyConsentWaits(*db_, "bison", 100 * kDay));
  EXPECT_FALSE(*lifecycle::OnlyConsentWaits(*db_, "bison", 600 * kDay));
  AddJob("m2", JobState::kPolling);
  EXPECT_FALSE(*lifecycle::OnlyConsentWaits(*db_, "bison", 100 * kDay));
}

}  // namespace
}  // namespace p2p::pipeline::lifecycle
