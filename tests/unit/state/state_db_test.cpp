#include "state/state_db.h"

#include <sqlite3.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <array>
#include <filesystem>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "state/migrations.h"
#include "state/sqlite/sqlite_conn.h"
#include "support/state_recount.h"

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
                         "EXPLAIN QUERY PLAN SELECT id FROM members INDEXED BY members_runnable "
                         "WHERE payer=?1 AND state<=5 AND next_ms<=?2 ORDER BY deadline, id LIMIT ?3");
  ASSERT_TRUE(q);
  std::string plan;
  while (*q->Step("plan")) plan += q->Text(3) + "\n";
  EXPECT_NE(plan.find("USING INDEX members_runnable"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  auto wake = Stmt::Prepare((*db)->handle(),
                            "EXPLAIN QUERY PLAN SELECT MIN(next_ms) FROM members WHERE payer=?1 AND "
                            "state<=5");
  ASSERT_TRUE(wake);
  std::string wake_plan;
  while (*wake->Step("plan")) wake_plan += wake->Text(3) + "\n";
  EXPECT_NE(wake_plan.find("USING INDEX members_wake"), std::string::npos) << wake_plan;
}

TEST_F(StateDbTest, NextDueIsTheFirstWakeAfterNowIgnoringJobsDueAlready) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("a"), Member("b"), Member("c")}, 0, 1));
  auto none = (*db)->NextDue("bison", 10);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());  // all due at 0: a running job must not make the loop spin
  auto ids = (*db)->Runnable("bison", 10, 10);
  ASSERT_TRUE(ids);
  ASSERT_EQ(ids->size(), 3u);
  for (auto [i, next] : {std::pair{0, 500}, std::pair{1, 200}}) {
    auto job = (*db)->LoadJob((*ids)[static_cast<size_t>(i)]);
    ASSERT_TRUE(job);
    job->next_ms = next;
    ASSERT_TRUE((*db)->SaveJob(*job, job->state, 10));
  }
  auto due = (*db)->NextDue("bison", 10);
  ASSERT_TRUE(due);
  ASSERT_TRUE(due->has_value());
  EXPECT_EQ(**due, 200);
  EXPECT_EQ(**(*db)->NextDue("bison", 200), 500);
  EXPECT_FALSE((*db)->NextDue("elk", 0)->has_value());
  auto plan = Stmt::Prepare((*db)->handle(),
                            "EXPLAIN QUERY PLAN SELECT MIN(next_ms) FROM members WHERE payer=?1 AND "
                            "state<=5 AND next_ms>?2");
  ASSERT_TRUE(plan);
  std::string text;
  while (*plan->Step("plan")) text += plan->Text(3) + "\n";
  EXPECT_NE(text.find("USING INDEX members_wake"), std::string::npos) << text;
}

TEST_F(StateDbTest, TakeInCountsMembersWithAnActiveJobAsAlreadyKnown) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("known")}, 0, 1));
  auto counts = (*db)->TakeIn("b.csv", {Member("m1"), Member("known"), Member("m2")}, 1, 2);
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_EQ(counts->inserted, 2);
  EXPECT_EQ(counts->already_known, 1);
  auto taken = (*db)->SourceFileTaken("b.csv");
  ASSERT_TRUE(taken);
  EXPECT_TRUE(*taken);
}

TEST_F(StateDbTest, CommitsReachTheWalWithoutAnFsyncEach) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  for (auto [pragma, want] : {std::pair{"PRAGMA synchronous", int64_t{1}},  // NORMAL
                              std::pair{"PRAGMA wal_autocheckpoint", int64_t{8192}},
                              std::pair{"PRAGMA cache_size", int64_t{-16384}}}) {
    auto q = Stmt::Prepare((*db)->handle(), pragma);
    ASSERT_TRUE(q);
    ASSERT_TRUE(*q->Step("pragma"));
    EXPECT_EQ(q->Int(0), want) << pragma;
  }
  // A commit is visible to another connection (another process) at once.
  ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("a")}, 0, 1));
  auto other = SqliteConn::Open(path_);  // another connection, as another process would have
  ASSERT_TRUE(other);
  auto n = Stmt::Prepare(other->get(), "SELECT COUNT(*) FROM members");
  ASSERT_TRUE(n);
  ASSERT_TRUE(*n->Step("count"));
  EXPECT_EQ(n->Int(0), 1);
  *n = Stmt();
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

// --- member_counts (migration 002) ---

using testing::Counted;
using testing::CountRows;
using testing::GroupBy;

TEST_F(StateDbTest, MemberCountsFollowEveryInsertTransitionRedropAndDelete) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db) << db.error().message;
  StateDb& d = **db;
  auto elk = [this](const std::string& key) {
    NewMember m = Member(key);
    m.payer = "elk";
    return m;
  };
  // Moves job `id` to `to`; `previous` may be wrong on purpose (the save is then refused).
  auto move = [&d](int64_t id, JobState to, JobState previous) {
    auto job = d.LoadJob(id);
    if (!job) return false;
    job->state = to;
    return static_cast<bool>(d.SaveJob(*job, previous, 10));
  };
  struct Step {
    const char* what;
    std::function<void()> act;
    CountRows expected;
  };
  const std::vector<Step> steps = {
      {"intake of three members of two payers",
       [&] { ASSERT_TRUE(d.TakeIn("a.csv", {Member("M1"), Member("M2"), elk("M3")}, 0, 1)); },
       {{"bison", 0, 2}, {"elk", 0, 1}}},
      {"a member dropped again is not counted twice",
       [&] { ASSERT_TRUE(d.TakeIn("b.csv", {Member("M1")}, 0, 2)); },
       {{"bison", 0, 2}, {"elk", 0, 1}}},
      {"pending -> matching",
       [&] { ASSERT_TRUE(move(1, JobState::kMatching, JobState::kPending)); },
       {{"bison", 0, 1}, {"bison", 1, 1}, {"elk", 0, 1}}},
      {"a save in the same state moves nothing",
       [&] { ASSERT_TRUE(move(1, JobState::kMatching, JobState::kMatching)); },
       {{"bison", 0, 1}, {"bison", 1, 1}, {"elk", 0, 1}}},
      {"a refused save (operator changed the job) moves nothing",
       [&] { ASSERT_FALSE(move(1, JobState::kComplete, JobState::kPending)); },
       {{"bison", 0, 1}, {"bison", 1, 1}, {"elk", 0, 1}}},
      {"matching -> failed",
       [&] { ASSERT_TRUE(move(1, JobState::kFailed, JobState::kMatching)); },
       {{"bison", 0, 1}, {"bison", 10, 1}, {"elk", 0, 1}}},
      {"the failed member dropped again starts a second job",
       [&] { ASSERT_TRUE(d.TakeIn("c.csv", {Member("M1")}, 0, 3)); },
       {{"bison", 0, 2}, {"bison", 10, 1}, {"elk", 0, 1}}},
      {"an operator's cancel straight in SQL",
       [&] { ASSERT_TRUE(Exec(d.handle(), "UPDATE members SET state=11 WHERE id=3", "cancel")); },
       {{"bison", 0, 2}, {"bison", 10, 1}, {"elk", 11, 1}}},
      {"deleting a member row",
       [&] { ASSERT_TRUE(Exec(d.handle(), "DELETE FROM members WHERE id=1", "delete")); },
       {{"bison", 0, 2}, {"elk", 11, 1}}},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.what);
    step.act();
    EXPECT_EQ(Counted(d), step.expected);
    EXPECT_EQ(Counted(d), GroupBy(d));
    auto by_state = d.CountByState();
    ASSERT_TRUE(by_state);
    std::array<int64_t, kJobStateCount> want{};
    for (const auto& [payer, state, n] : step.expected) want[static_cast<size_t>(state)] += n;
    EXPECT_EQ(*by_state, want);
  }
}

TEST_F(StateDbTest, AVersion1DatabaseUpgradesWithItsMembersCounted) {
  {
    // A file made by an older p2p-ingestd: no auto_vacuum (it came later).
    sqlite3* old = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &old), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(old, "CREATE TABLE t0(x); DROP TABLE t0;", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(old);
    auto conn = SqliteConn::Open(path_);
    ASSERT_TRUE(conn) << conn.error().message;
    Conn* raw = conn->get();
    ASSERT_EQ(EmbeddedMigrations().front().version, 1);
    auto v = ApplyMigrations(raw, {EmbeddedMigrations().front()});
    ASSERT_TRUE(v) << v.error().message;
    ASSERT_EQ(*v, 1);
    ASSERT_TRUE(Exec(raw,
                     "INSERT INTO members(member_key, payer, state, row_json, deadline, "
                     "consent_end, created_ms, updated_ms) VALUES "
                     "('M1','bison',0,'{}',1,1,0,0), ('M2','bison',6,'{}',1,1,0,0), "
                     "('M3','bison',6,'{}',1,1,0,0), ('M4','elk',10,'{}',1,1,0,0)",
                     "v1 members"));
    conn->reset();
  }
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(Counted(**db), (CountRows{{"bison", 0, 1}, {"bison", 6, 2}, {"elk", 10, 1}}));
  // The triggers are live after the upgrade.
  ASSERT_TRUE((*db)->TakeIn("a.csv", {Member("M9")}, 0, 1));
  EXPECT_EQ(Counted(**db), (CountRows{{"bison", 0, 2}, {"bison", 6, 2}, {"elk", 10, 1}}));
  // A DB created before auto_vacuum=INCREMENTAL keeps its mode (NONE).
  auto mode = Stmt::Prepare((*db)->handle(), "PRAGMA auto_vacuum");
  ASSERT_TRUE(*mode->Step("auto_vacuum"));
  EXPECT_EQ(mode->Int(0), 0);
}

TEST_F(StateDbTest, ANewDatabaseIsCreatedWithIncrementalVacuum) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db);
  auto mode = Stmt::Prepare((*db)->handle(), "PRAGMA auto_vacuum");
  ASSERT_TRUE(*mode->Step("auto_vacuum"));
  EXPECT_EQ(mode->Int(0), 2);  // INCREMENTAL
}

// --- Housekeep ---

class HousekeepTest : public StateDbTest {
 protected:
  void SetUp() override {
    StateDbTest::SetUp();
    auto db = StateDb::Open(path_);
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(db).value();
  }
  void TearDown() override {
    db_.reset();
    StateDbTest::TearDown();
  }
  // A job of member `key` in `state` (completed at `completed_ms` when complete), with two files
  // and a bad line; returns its id.
  int64_t Job(const std::string& key, JobState state, int64_t completed_ms) {
    EXPECT_TRUE(db_->TakeIn(key + ".csv", {Member(key)}, 0, 1));
    auto q = Stmt::Prepare(db_->handle(), "SELECT MAX(id) FROM members");
    EXPECT_TRUE(*q->Step("id"));
    const int64_t id = q->Int(0);
    auto job = db_->LoadJob(id);
    EXPECT_TRUE(job);
    job->state = JobState::kDownloading;
    std::vector<FileRow> files(2);
    files[0] = {id, 0, FileKind::kOutput, "Patient", "http://h/p", FileState::kPending};
    files[1] = {id, 1, FileKind::kError, "OperationOutcome", "http://h/e", FileState::kPending};
    EXPECT_TRUE(db_->SaveManifest(*job, JobState::kPending, files, 2));
    FileRow done = files[0];
    done.state = FileState::kDone;
    EXPECT_TRUE(db_->FileDone(done, {{7, "not_json"}}, std::nullopt));
    job->state = state;
    job->completed_ms = state == JobState::kComplete ? completed_ms : 0;
    EXPECT_TRUE(db_->SaveJob(*job, JobState::kDownloading, completed_ms));
    return id;
  }
  int64_t Rows(const std::string& table, int64_t job_id) {
    auto q = Stmt::Prepare(db_->handle(), "SELECT COUNT(*) FROM " + table + " WHERE job_id=?1");
    q->Bind(1, job_id);
    EXPECT_TRUE(*q->Step("rows"));
    return q->Int(0);
  }
  std::unique_ptr<StateDb> db_;
};

TEST_F(HousekeepTest, TrimsOnlyOldCompleteJobsAndKeepsTheirSummary) {
  const int64_t cutoff = 1000;
  const int64_t old1 = Job("old1", JobState::kComplete, 100);
  const int64_t old2 = Job("old2", JobState::kComplete, 200);
  const int64_t old3 = Job("old3", JobState::kComplete, 999);
  const int64_t recent = Job("recent", JobState::kComplete, 1000);
  const int64_t failed = Job("failed", JobState::kFailed, 100);
  const int64_t running = Job("running", JobState::kDownloading, 100);

  auto trimmed = db_->Housekeep(cutoff, 2);  // two transactions: 2 + 1 jobs
  ASSERT_TRUE(trimmed) << trimmed.error().message;
  EXPECT_EQ(*trimmed, 3);
  for (int64_t id : {old1, old2, old3}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(Rows("files", id), 0);
    EXPECT_EQ(Rows("bad_lines", id), 0);
    auto job = db_->LoadJob(id);  // the summary row stays, with its events
    ASSERT_TRUE(job);
    EXPECT_EQ(job->state, JobState::kComplete);
    EXPECT_EQ(Rows("events", id), 2);
  }
  for (int64_t id : {recent, failed, running}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(Rows("files", id), 2);
    EXPECT_EQ(Rows("bad_lines", id), 1);
  }
  EXPECT_EQ(Counted(*db_), (CountRows{{"bison", 5, 1}, {"bison", 6, 4}, {"bison", 10, 1}}));

  auto again = db_->Housekeep(cutoff, 2);  // nothing left to trim
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);
  auto later = db_->Housekeep(cutoff + 1, 100);
  ASSERT_TRUE(later);
  EXPECT_EQ(*later, 1);
  EXPECT_EQ(Rows("files", recent), 0);
}

TEST_F(HousekeepTest, GivesFreedPagesBack) {
  // Enough per-file rows to fill many pages.
  for (int i = 0; i < 20; ++i) {
    const int64_t id = Job("m" + std::to_string(i), JobState::kComplete, 1);
    std::vector<BadLine> bad;
    for (int line = 0; line < 200; ++line) bad.push_back({line, std::string(100, 'x')});
    FileRow f{id, 0, FileKind::kOutput, "Patient", "http://h/p", FileState::kDone};
    ASSERT_TRUE(db_->FileDone(f, bad, std::nullopt));
  }
  auto pages = [this] {
    auto q = Stmt::Prepare(db_->handle(), "PRAGMA page_count");
    EXPECT_TRUE(*q->Step("pages"));
    return q->Int(0);
  };
  const int64_t before = pages();
  auto trimmed = db_->Housekeep(2, 8);
  ASSERT_TRUE(trimmed);
  EXPECT_EQ(*trimmed, 20);
  EXPECT_LT(pages(), before / 2) << "before: " << before;
  auto freelist = Stmt::Prepare(db_->handle(), "PRAGMA freelist_count");
  ASSERT_TRUE(*freelist->Step("freelist"));
  EXPECT_EQ(freelist->Int(0), 0);
}

TEST_F(HousekeepTest, RefusesANonPositiveBatch) {
  auto r = db_->Housekeep(1, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(r.error().message, "housekeep: max_jobs must be positive");
}

}  // namespace
}  // namespace p2p::state
