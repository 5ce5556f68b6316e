// The job state's other parts on both backends (postgres/state_backend.h): $bulk-member-match
// batches and Group exports (state/bulk_match_db.h), the member lifecycle (refreshes,
// revocations, purges; state/lifecycle_db.h) and the streaming intake of a member file in
// committed batches with a crash between two of them (pipeline/member_intake.h).
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline/member_intake.h"
#include "postgres/state_backend.h"
#include "state/bulk_match_db.h"
#include "state/lifecycle_db.h"

namespace p2p::state {
namespace {

class StateBackendParts : public StateBackendTest {
 protected:
  void SetUp() override {
    StateBackendTest::SetUp();
    if (HasFatalFailure()) return;
    std::vector<NewMember> members;
    for (int i = 0; i < 5; ++i) members.push_back(Member("K" + std::to_string(i)));
    ASSERT_TRUE(db_->TakeIn("f.csv", members, 0, 1000));
  }
  Job Load(int64_t id) { return *db_->LoadJob(id); }
};

TEST_P(StateBackendParts, BulkMatchBatchJoinSealApplySettle) {
  BulkMatchDb b(*db_);
  auto first = b.Join(Load(1), 2, 500, 1000);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(Load(*first).member_key, "bulk-match:1");
  EXPECT_EQ(Load(*first).next_ms, 1500);
  EXPECT_EQ(Load(1).next_ms, kParkedMs);
  ASSERT_EQ(*b.Join(Load(2), 2, 500, 1100), *first);
  EXPECT_EQ(Load(*first).next_ms, 0);  // full: due now
  auto again = b.Join(Load(1), 2, 500, 1300);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kCancelled);
  auto second = b.Join(Load(3), 2, 500, 1200);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(Load(*second).member_key, "bulk-match:2");
  ASSERT_TRUE(b.Join(Load(4), 2, 500, 1200));
  EXPECT_EQ((*b.Find(*first))->kind, GroupExportKind::kBulkMatchBatch);
  EXPECT_FALSE(*b.Find(1));

  Job batch = Load(*first);
  batch.state = JobState::kMatching;
  ASSERT_TRUE(b.Seal(batch, JobState::kPending, 2000));
  EXPECT_EQ(Load(1).requested_ms, 2000);
  ASSERT_EQ(b.Waiting(*first)->size(), 2u);
  batch.state = JobState::kMatched;
  batch.group_id = "g-1";
  ASSERT_TRUE(b.Apply(batch, JobState::kMatching,
                      {{1, BulkOutcome::kMatched, "pat-1"}, {2, BulkOutcome::kMissing, ""}}, 3000));
  EXPECT_EQ(Load(1).state, JobState::kMatched);
  EXPECT_EQ(Load(1).group_id, "g-1");
  EXPECT_EQ(Load(2).state, JobState::kFailed);
  EXPECT_EQ(**b.KeyForPatient("bison", "pat-1"), "K0");
  ASSERT_TRUE(b.RecordPatientKeys("bison", {{"pat-1", "K9"}, {"pat-2", "K2"}}));
  EXPECT_EQ(**b.KeyForPatient("bison", "pat-1"), "K9");
  EXPECT_EQ(*b.Settle(*first, 4000), 0);  // not terminal yet
  for (JobState s :
       {JobState::kExporting, JobState::kPolling, JobState::kDownloading, JobState::kComplete}) {
    ASSERT_TRUE(Move(*db_, *first, s, 5000));
  }
  // The second batch fails before an answer: its members fail with it.
  Job other = Load(*second);
  other.state = JobState::kFailed;
  other.error_class = "http_status";
  ASSERT_TRUE(db_->SaveJob(other, JobState::kPending, 5000));
  auto settled = b.SettleAll(6000);
  ASSERT_TRUE(settled) << settled.error().message;
  EXPECT_EQ(*settled, 3);  // member 1 complete, members 3 and 4 failed
  EXPECT_EQ(Load(1).state, JobState::kComplete);
  EXPECT_EQ(Load(3).state, JobState::kFailed);
  EXPECT_EQ(Load(3).error_detail, "the Group export of batch bulk-match:2 ended failed");
  EXPECT_EQ(*b.SettleAll(7000), 0);
  EXPECT_EQ(Counted(*db_), GroupBy(*db_));
}

TEST_P(StateBackendParts, OneQueuedGroupExportAtATimeAndTheOldOneKeptAsHistory) {
  BulkMatchDb b(*db_);
  auto id = b.EnqueueGroupExport("bison", "fam", 1000);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(Load(*id).state, JobState::kMatched);
  EXPECT_EQ(Load(*id).group_id, "fam");
  auto twice = b.EnqueueGroupExport("bison", "fam", 1100);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "an export of Group fam is already queued or running");
  EXPECT_TRUE(b.EnqueueGroupExport("elk", "fam", 1200));
  for (JobState s :
       {JobState::kExporting, JobState::kPolling, JobState::kDownloading, JobState::kComplete}) {
    ASSERT_TRUE(Move(*db_, *id, s, 2000));
  }
  auto next = b.EnqueueGroupExport("bison", "fam", 3000);
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(Load(*id).member_key, "group:fam@" + std::to_string(*id));
}

TEST_P(StateBackendParts, RefreshScheduleRevocationAndPurge) {
  ASSERT_TRUE(RecordLifecycle(*db_, {{"bison", "K0", true, 20000, 21000, 20500},
                                     {"bison", "K1", false, 30000, 31000, std::nullopt}}));
  // A newer source row replaces the dates, never the schedule.
  ASSERT_TRUE(SetRefreshDue(*db_, "bison", "K0", 5000));
  ASSERT_TRUE(RecordLifecycle(*db_, {{"bison", "K0", true, 20001, 21001, std::nullopt}}));
  auto lc = LoadLifecycle(*db_, "bison", "K0");
  ASSERT_TRUE(lc && *lc) << (lc ? "no row" : lc.error().message);
  EXPECT_EQ((*lc)->consent_end_days, 21001);
  EXPECT_FALSE((*lc)->coverage_end_days);
  EXPECT_EQ((*lc)->refresh_due_ms, 5000);

  // Due only once the job is complete.
  EXPECT_TRUE(DueRefreshes(*db_, "bison", 6000, 10)->empty());
  auto job = Load(1);
  job.state = JobState::kComplete;
  job.transaction_time = "2027-01-01T00:00:00Z";
  ASSERT_TRUE(db_->SaveJob(job, JobState::kPending, 10));
  auto due = DueRefreshes(*db_, "bison", 6000, 10);
  ASSERT_TRUE(due) << due.error().message;
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].transaction_time, "2027-01-01T00:00:00Z");
  EXPECT_TRUE(DueRefreshes(*db_, "bison", 4999, 10)->empty());
  ASSERT_TRUE(*StartRefresh(*db_, 1, "bison", "K0", "2027-01-01T00:00:00Z", 7000));
  EXPECT_FALSE(*StartRefresh(*db_, 1, "bison", "K0", "x", 7001));  // no longer complete
  EXPECT_EQ(Load(1).state, JobState::kExporting);
  EXPECT_EQ(*RefreshSince(*db_, "bison", "K0"), "2027-01-01T00:00:00Z");
  EXPECT_EQ((*LoadLifecycle(*db_, "bison", "K0"))->refreshes, 1);

  // A revocation cancels the active job and asks for a purge, once.
  auto rev = RecordRevocation(*db_, "bison", "K0", true, 8000);
  ASSERT_TRUE(rev) << rev.error().message;
  EXPECT_TRUE(rev->cancelled);
  EXPECT_TRUE(rev->purge_requested);
  EXPECT_EQ(Load(1).state, JobState::kCancelled);
  auto again = RecordRevocation(*db_, "bison", "K0", false, 9000);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->cancelled);
  EXPECT_TRUE(again->purge_requested);  // still pending: a later call never withdraws it
  EXPECT_EQ((*LoadLifecycle(*db_, "bison", "K0"))->revoked_ms, 8000);
  // A member never seen before gets a row of its own.
  ASSERT_TRUE(RecordRevocation(*db_, "bison", "unknown", false, 9000));
  EXPECT_EQ((*LoadLifecycle(*db_, "bison", "unknown"))->revoked_ms, 9000);

  EXPECT_EQ(*CancelledPayersOf(*db_, "K0", ""), (std::vector<std::string>{"bison"}));
  EXPECT_TRUE(CancelledPayersOf(*db_, "K1", "")->empty());
  EXPECT_TRUE(CancelledPayersOf(*db_, "K0", "elk")->empty());
  auto purges = PendingPurges(*db_, "bison", 10);
  ASSERT_TRUE(purges) << purges.error().message;
  ASSERT_EQ(purges->size(), 1u);
  EXPECT_EQ((*purges)[0].job_id, 1);
  ASSERT_TRUE(PurgeDone(*db_, "bison", "K0", 1, 12, {{"Patient", 77}}, 10000));
  EXPECT_TRUE(PendingPurges(*db_, "bison", 10)->empty());
  EXPECT_EQ((*LoadLifecycle(*db_, "bison", "K0"))->purged_count, 12);
  EXPECT_EQ(TombstoneMarks(*db_)->at("Patient"), 77);
  // After the purge, another revocation asks for none.
  EXPECT_FALSE(RecordRevocation(*db_, "bison", "K0", true, 11000)->purge_requested);
}

TEST_P(StateBackendParts, OnlyConsentWaitsAndDeletedFileDone) {
  EXPECT_FALSE(*OnlyConsentWaits(*db_, "bison", 100));  // five pending members, no lifecycle
  for (int64_t id = 2; id <= 5; ++id) ASSERT_TRUE(Move(*db_, id, JobState::kNoMatch));
  ASSERT_TRUE(RecordLifecycle(*db_, {{"bison", "K0", false, 200, 300, std::nullopt}}));
  EXPECT_TRUE(*OnlyConsentWaits(*db_, "bison", 100));
  EXPECT_FALSE(*OnlyConsentWaits(*db_, "bison", 200));

  auto job = Load(1);
  job.state = JobState::kDownloading;
  FileRow f{1, 0, FileKind::kDeleted, "Patient", "http://h/d", FileState::kPending};
  ASSERT_TRUE(db_->SaveManifest(job, JobState::kPending, {f}, 20));
  f.state = FileState::kDone;
  f.lines = 4;
  ASSERT_TRUE(DeletedFileDone(*db_, f, {{"Patient", 99}}));
  EXPECT_EQ((*db_->LoadFiles(1))[0].lines, 4);
  EXPECT_EQ(TombstoneMarks(*db_)->at("Patient"), 99);
}

constexpr const char* kHeader =
    "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,"
    "coverage_start,opt_in_date,consent_start,consent_end,consent_policy,consent_revoked\n";

std::string Row(const std::string& key, const std::string& revoked = "false") {
  return key + ",bison,Ann,Lee,1974-12-25,,C1,,2027-01-01,2027-01-03,2026-12-01,2028-01-03,"
               "regular," + revoked + "\n";
}

// The daemon's streaming intake: a file of 23 rows (a bad one, a duplicate met after the crash,
// a revocation last) in batches of 5; the first run stops after its second batch, the second
// resumes there: every member once, the duplicate reported, the revoked member cancelled.
using StateBackendIntake = StateBackendTest;

TEST_P(StateBackendIntake, StreamingIntakeResumesAfterACrashBetweenBatches) {
  namespace fs = std::filesystem;
  SourceOptions options;
  options.path = dir_.File("inbox");
  source::DirectorySource source(options, {"bison"}, "a");
  ASSERT_TRUE(source.Prepare());
  std::string text = kHeader;
  for (int i = 1; i <= 20; ++i) {
    text += i == 6 ? Row("bad,extra") : Row("m" + std::to_string(i));
    if (i == 15) text += Row("m3");
  }
  text += Row("m2", "true");
  std::ofstream(options.path + "/members.csv", std::ios::binary) << text;
  auto claimed = source.ListReady();
  ASSERT_TRUE(claimed) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 1u);
  const int64_t now_ms = 1798761600000;  // 2027-01-01

  pipeline::FileIntakeSettings crash;
  crash.batch_rows = 5;
  int batches = 0;
  crash.after_batch = [&batches](int64_t) -> Result<void> {
    if (++batches == 2) return MakeError(ErrorKind::kIo, "crash");
    return Ok();
  };
  auto first = pipeline::TakeInFile(*db_, source, claimed->front(), ConsentOptions{}, now_ms, crash);
  ASSERT_FALSE(first);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM members"), 10);

  db_ = Open();  // a restarted daemon
  pipeline::FileIntakeSettings settings;
  settings.batch_rows = 5;
  auto second = pipeline::TakeInFile(*db_, source, claimed->front(), ConsentOptions{}, now_ms,
                                     settings);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->counts.inserted, 19);
  EXPECT_EQ(second->problems, 2u);  // the bad row and the duplicate
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM members"), 19);
  EXPECT_EQ(Scalar("SELECT COUNT(DISTINCT member_key) FROM members"), 19);
  EXPECT_EQ(Scalar("SELECT state FROM members WHERE member_key='m2'"),
            static_cast<int64_t>(JobState::kCancelled));
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM source_keys"), 0);
  // With the PostgreSQL state the record names the claimant too ("<instance.id>/members.csv").
  EXPECT_EQ(Scalar("SELECT rows_bad FROM source_files WHERE name LIKE '%members.csv'"), 2);
  EXPECT_TRUE(fs::exists(source.processed_dir() / "members.csv"));
  EXPECT_EQ(Counted(*db_), GroupBy(*db_));
}

INSTANTIATE_TEST_SUITE_P(Backends, StateBackendParts, kStateBackends, BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, StateBackendIntake, kStateBackends, BackendName);

}  // namespace
}  // namespace p2p::state
