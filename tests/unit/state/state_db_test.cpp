#include "state/state_db.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "state/migrations.h"

namespace p2p::state {
namespace {

namespace fs = std::filesystem;

class StateDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/p2p-state-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = (fs::path(dir_) / "state.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  NewMember Member(const std::string& key, int64_t deadline = 100) {
    NewMember m;
    m.member_key = key;
    m.payer = "bison";
    m.row_json = "{}";
    m.deadline = deadline;
    m.consent_end_days = 30000;
    m.source_line = 2;
    return m;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(StateDbTest, CreatesPrivateFileWithWalAndLatestSchema) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db) << db.error().message;
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto q = Stmt::Prepare((*db)->handle(), "PRAGMA journal_mode");
  ASSERT_TRUE(q);
  ASSERT_TRUE(*q->Step("mode"));
  EXPECT_EQ(q->Text(0), "wal");
  auto v = Stmt::Prepare((*db)->handle(), "SELECT MAX(version) FROM schema_migrations");
  ASSERT_TRUE(v);
  ASSERT_TRUE(*v->Step("version"));
  EXPECT_EQ(v->Int(0), EmbeddedMigrations().back().version);
}

TEST_F(StateDbTest, RefusesADatabaseNewerThanItKnows) {
  {
    auto db = StateDb::Open(path_);
    ASSERT_TRUE(db);
    ASSERT_TRUE(Exec((*db)->handle(), "INSERT INTO schema_migrations(version, name) VALUES (999, 'x')",
                     "bump"));
  }
  auto db = StateDb::Open(path_);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().message,
            "state DB " + path_ + ": state database schema version 999 is newer than this "
            "p2p-ingestd knows (" + std::to_string(EmbeddedMigrations().back().version) +
            "); upgrade p2p-ingestd");
}

TEST_F(StateDbTest, ReopeningKeepsDataAndAppliesNothingTwice) {
  {
    auto db = StateDb::Open(path_);
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("M1")}, 0, 1));
  }
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db) << db.error().message;
  auto counts = (*db)->CountByState();
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)[0], 1);
}

TEST_F(StateDbTest, SameMemberDroppedAgainDoesNotStartASecondJob) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  auto first = (*db)->TakeIn("a.csv", {Member("M1"), Member("M2")}, 0, 1);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->inserted, 2);
  auto again = (*db)->TakeIn("b.csv", {Member("M1")}, 0, 2);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->inserted, 0);
  EXPECT_EQ(again->already_known, 1);
  auto taken = (*db)->SourceFileTaken("b.csv");
  ASSERT_TRUE(taken);
  EXPECT_TRUE(*taken);
}

TEST_F(StateDbTest, AFailedMemberMayBeDroppedAgain) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("M1")}, 0, 1));
  auto ids = (*db)->Runnable("bison", 10, 10);
  ASSERT_TRUE(ids);
  ASSERT_EQ(ids->size(), 1u);
  auto job = (*db)->LoadJob(ids->front());
  ASSERT_TRUE(job);
  job->state = JobState::kFailed;
  job->error_class = "network";
  ASSERT_TRUE((*db)->SaveJob(*job, JobState::kPending, 5));
  auto again = (*db)->TakeIn("b.csv", {Member("M1")}, 0, 6);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->inserted, 1);
}

TEST_F(StateDbTest, RunnableIsEarliestDeadlineFirstAndSkipsWaitingJobs) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("late", 300), Member("early", 100), Member("mid", 200)},
                            0, 1));
  auto ids = (*db)->Runnable("bison", 10, 10);
  ASSERT_TRUE(ids);
  ASSERT_EQ(ids->size(), 3u);
  EXPECT_EQ((*db)->LoadJob((*ids)[0])->member_key, "early");
  EXPECT_EQ((*db)->LoadJob((*ids)[2])->member_key, "late");
  auto mid = (*db)->LoadJob((*ids)[1]);
  ASSERT_TRUE(mid);
  mid->next_ms = 1000;
  ASSERT_TRUE((*db)->SaveJob(*mid, mid->state, 10));
  auto later = (*db)->Runnable("bison", 10, 10);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->size(), 2u);
  auto wake = (*db)->NextWake("bison");
  ASSERT_TRUE(wake);
  ASSERT_TRUE(wake->has_value());
  EXPECT_EQ(**wake, 0);
}

TEST_F(StateDbTest, RunnableUsesThePartialIndexNotAScan) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  auto q = Stmt::Prepare((*db)->handle(),
                         "EXPLAIN QUERY PLAN SELECT id FROM members WHERE payer=?1 AND state<=5 AND "
                         "next_ms<=?2 ORDER BY deadline, id LIMIT ?3");
  ASSERT_TRUE(q);
  std::string plan;
  while (*q->Step("plan")) plan += q->Text(3) + "\n";
  EXPECT_NE(plan.find("USING INDEX members_runnable"), std::string::npos) << plan;
}

TEST_F(StateDbTest, ManifestFilesAndTheirDoneMarksCommitTogether) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("M1")}, 0, 1));
  auto job = (*db)->LoadJob((*(*db)->Runnable("bison", 10, 1))[0]);
  ASSERT_TRUE(job);
  JobState prev = job->state;
  job->state = JobState::kDownloading;
  job->transaction_time = "2026-01-05T16:08:38.956Z";
  std::vector<FileRow> files(2);
  files[0] = {job->id, 0, FileKind::kOutput, "Patient", "http://h/p", FileState::kPending};
  files[1] = {job->id, 1, FileKind::kError, "OperationOutcome", "http://h/e", FileState::kPending};
  ASSERT_TRUE((*db)->SaveManifest(*job, prev, files, 20));
  auto loaded = (*db)->LoadFiles(job->id);
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 2u);
  FileRow done = (*loaded)[0];
  done.state = FileState::kDone;
  done.lines = 3;
  done.stored = 2;
  done.bad_lines = 1;
  ASSERT_TRUE((*db)->FileDone(done, {{2, "not_json"}}, std::make_pair(std::string("Patient"),
                                                                     TypeMark{120, 40})));
  auto after = (*db)->LoadFiles(job->id);
  EXPECT_EQ((*after)[0].state, FileState::kDone);
  EXPECT_EQ((*after)[0].stored, 2);
  EXPECT_EQ((*after)[1].state, FileState::kPending);
  auto marks = (*db)->StoreMarks();
  ASSERT_TRUE(marks);
  EXPECT_EQ((*marks)["Patient"].ndjson_end, 120);
  EXPECT_EQ(*(*db)->BadLineCount(), 1);
  auto reloaded = (*db)->LoadJob(job->id);
  EXPECT_EQ(reloaded->state, JobState::kDownloading);
  EXPECT_EQ(reloaded->transaction_time, "2026-01-05T16:08:38.956Z");
}

TEST_F(StateDbTest, EveryTransitionIsRecordedAsAnEvent) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("M1")}, 0, 1));
  auto job = (*db)->LoadJob(1);
  ASSERT_TRUE(job);
  job->state = JobState::kMatching;
  ASSERT_TRUE((*db)->SaveJob(*job, JobState::kPending, 2));
  job->attempts = 1;  // same state: no event
  ASSERT_TRUE((*db)->SaveJob(*job, JobState::kMatching, 3));
  auto q = Stmt::Prepare((*db)->handle(), "SELECT COUNT(*), MAX(to_state) FROM events");
  ASSERT_TRUE(*q->Step("events"));
  EXPECT_EQ(q->Int(0), 1);
  EXPECT_EQ(q->Int(1), static_cast<int64_t>(JobState::kMatching));
}

TEST_F(StateDbTest, ASaveOverAnOperatorsChangeIsRefused) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("M1")}, 0, 1));
  auto job = (*db)->LoadJob(1);
  ASSERT_TRUE(job);
  // The operator cancels the job while the daemon holds its copy as "pending".
  ASSERT_TRUE(Exec((*db)->handle(), "UPDATE members SET state=11 WHERE id=1", "cancel"));
  job->state = JobState::kMatching;
  auto r = (*db)->SaveJob(*job, JobState::kPending, 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kCancelled);
  EXPECT_EQ(r.error().message, "job 1 was changed by an operator");
  EXPECT_EQ((*db)->LoadJob(1)->state, JobState::kCancelled);
}

}  // namespace
}  // namespace p2p::state
