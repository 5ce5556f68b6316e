// state/bulk_match_db.h: batches of $bulk-member-match and Group exports, on a real state DB with
// the real migrations.
#include "state/bulk_match_db.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace p2p::state {
namespace {

namespace fs = std::filesystem;

class BulkMatchDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/p2p-bulkdb-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto db = StateDb::Open((fs::path(dir_) / "state.db").string());
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
    std::vector<NewMember> members;
    for (int i = 0; i < 5; ++i) {
      NewMember m;
      m.member_key = "K" + std::to_string(i);
      m.payer = "bison";
      m.row_json = "{}";
      m.deadline = 100;
      m.consent_end_days = 30000;
      members.push_back(m);
    }
    ASSERT_TRUE(db_->TakeIn("f.csv", members, 0, 1000));
  }
  void TearDown() override {
    db_.reset();
    fs::remove_all(dir_);
  }
  Job Load(int64_t id) { return *db_->LoadJob(id); }

  std::string dir_;
  std::unique_ptr<StateDb> db_;
};

TEST_F(BulkMatchDbTest, MembersJoinParkedAndAFullBatchIsDueNow) {
  BulkMatchDb b(*db_);
  auto first = b.Join(Load(1), 2, 500, 1000);
  ASSERT_TRUE(first) << first.error().message;
  Job batch = Load(*first);
  EXPECT_EQ(batch.member_key, "bulk-match:1");
  EXPECT_EQ(batch.state, JobState::kPending);
  EXPECT_EQ(batch.next_ms, 1500);  // waits batch_wait for more members
  EXPECT_EQ(Load(1).state, JobState::kMatching);
  EXPECT_EQ(Load(1).next_ms, kParkedMs);
  ASSERT_EQ(*b.Join(Load(2), 2, 500, 1100), *first);
  EXPECT_EQ(Load(*first).next_ms, 0);  // full: due now
  auto second = b.Join(Load(3), 2, 500, 1200);
  ASSERT_TRUE(second);
  EXPECT_NE(*second, *first);
  EXPECT_EQ(Load(*second).member_key, "bulk-match:2");
  auto info = b.Find(*first);
  ASSERT_TRUE(info && *info);
  EXPECT_EQ((*info)->kind, GroupExportKind::kBulkMatchBatch);
  EXPECT_FALSE(*b.Find(1));
  // A member that is no longer pending (an operator moved it) does not join.
  auto again = b.Join(Load(1), 2, 500, 1300);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kCancelled);
}

TEST_F(BulkMatchDbTest, AnswerMovesEachMemberAndRecordsPatientKeysThenSettles) {
  BulkMatchDb b(*db_);
  int64_t batch_id = 0;
  for (int64_t id = 1; id <= 4; ++id) batch_id = *b.Join(Load(id), 10, 0, 1000);
  Job batch = Load(batch_id);
  batch.state = JobState::kMatching;
  ASSERT_TRUE(b.Seal(batch, JobState::kPending, 2000));
  EXPECT_EQ(Load(1).requested_ms, 2000);
  ASSERT_EQ(b.Waiting(batch_id)->size(), 4u);

  batch.state = JobState::kMatched;
  batch.group_id = "g-1";
  std::vector<MemberVerdict> v = {{1, BulkOutcome::kMatched, "pat-1"},
                                  {2, BulkOutcome::kNoMatch, ""},
                                  {3, BulkOutcome::kConsentRefused, ""},
                                  {4, BulkOutcome::kMissing, ""}};
  ASSERT_TRUE(b.Apply(batch, JobState::kMatching, v, 3000));
  EXPECT_EQ(Load(batch_id).state, JobState::kMatched);
  EXPECT_EQ(Load(1).state, JobState::kMatched);
  EXPECT_EQ(Load(1).group_id, "g-1");
  EXPECT_EQ(Load(2).state, JobState::kNoMatch);
  EXPECT_EQ(Load(3).state, JobState::kConsentRefused);
  EXPECT_EQ(Load(4).state, JobState::kFailed);
  EXPECT_EQ(Load(4).error_detail, "$bulk-member-match: member missing from the answer");
  EXPECT_EQ(**b.KeyForPatient("bison", "pat-1"), "K0");
  EXPECT_FALSE(*b.KeyForPatient("other", "pat-1"));
  EXPECT_TRUE(b.Waiting(batch_id)->empty());

  EXPECT_EQ(*b.Settle(batch_id, 4000), 0);  // not terminal yet: nothing to settle
  batch = Load(batch_id);
  for (JobState s :
       {JobState::kExporting, JobState::kPolling, JobState::kDownloading, JobState::kComplete}) {
    const JobState prev = batch.state;
    batch.state = s;
    ASSERT_TRUE(db_->SaveJob(batch, prev, 5000));
  }
  EXPECT_EQ(*b.SettleAll(6000), 1);
  EXPECT_EQ(Load(1).state, JobState::kComplete);
  EXPECT_EQ(*b.SettleAll(7000), 0);
}

TEST_F(BulkMatchDbTest, AFailedBatchFailsItsWaitingMembers) {
  BulkMatchDb b(*db_);
  const int64_t batch_id = *b.Join(Load(1), 10, 0, 1000);
  Job batch = Load(batch_id);
  batch.state = JobState::kFailed;
  batch.error_class = "http_status";
  ASSERT_TRUE(db_->SaveJob(batch, JobState::kPending, 2000));
  EXPECT_EQ(*b.Settle(batch_id, 3000), 1);
  EXPECT_EQ(Load(1).state, JobState::kFailed);
  EXPECT_EQ(Load(1).error_class, "http_status");
  EXPECT_EQ(Load(1).error_detail, "the Group export of batch bulk-match:1 ended failed");
}

TEST_F(BulkMatchDbTest, OneQueuedExportPerGroupAndPayer) {
  BulkMatchDb b(*db_);
  auto id = b.EnqueueGroupExport("bison", "fam", 1000);
  ASSERT_TRUE(id) << id.error().message;
  Job j = Load(*id);
  EXPECT_EQ(j.member_key, "group:fam");
  EXPECT_EQ(j.state, JobState::kMatched);
  EXPECT_EQ(j.group_id, "fam");
  EXPECT_EQ(j.next_ms, 0);
  auto twice = b.EnqueueGroupExport("bison", "fam", 1100);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "an export of Group fam is already queued or running");
  EXPECT_TRUE(b.EnqueueGroupExport("other", "fam", 1200));
  // Once complete, the Group can be exported again; the old job stays as history.
  const JobState order[] = {JobState::kExporting, JobState::kPolling, JobState::kDownloading,
                            JobState::kComplete};
  for (JobState s : order) {
    const JobState prev = j.state;
    j.state = s;
    ASSERT_TRUE(db_->SaveJob(j, prev, 2000));
  }
  auto next = b.EnqueueGroupExport("bison", "fam", 3000);
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(Load(*id).member_key, "group:fam@" + std::to_string(*id));
}

}  // namespace
}  // namespace p2p::state
