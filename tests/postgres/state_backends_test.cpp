// The job state's scenarios on both backends (postgres/state_backend.h): intake, the runnable
// query, job saves and the operator's-change rule, manifests and file marks, the counters (kept
// by SQLite's triggers, appended as deltas and folded by CompactCounters in PostgreSQL), the
// deadline report and housekeeping. Each test runs once on SQLite and once on PostgreSQL and
// must give the same answers.
#include <array>
#include <string>
#include <vector>

#include "postgres/state_backend.h"
#include "state/sql.h"
#include "status/status_queries.h"

namespace p2p::state {
namespace {

using StateBackends = StateBackendTest;

TEST_P(StateBackends, IntakeSkipsMembersWithAnActiveOrCompleteJobAndRecordsTheFile) {
  auto first = db_->TakeIn("a.csv", {Member("M1"), Member("M2")}, 0, 1);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->inserted, 2);
  auto again = db_->TakeIn("b.csv", {Member("M1"), Member("M3")}, 1, 2);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->inserted, 1);
  EXPECT_EQ(again->already_known, 1);
  EXPECT_TRUE(*db_->SourceFileTaken("b.csv"));
  EXPECT_FALSE(*db_->SourceFileTaken("c.csv"));
  EXPECT_EQ(Scalar("SELECT rows_ok + 10 * rows_bad FROM source_files WHERE name='b.csv'"), 12);

  // A failed member may come again; a complete one may not.
  ASSERT_TRUE(Move(*db_, 1, JobState::kFailed));
  ASSERT_TRUE(Move(*db_, 2, JobState::kComplete));
  auto third = db_->TakeIn("c.csv", {Member("M1"), Member("M2")}, 0, 3);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->inserted, 1);
  EXPECT_EQ(third->already_known, 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM members WHERE member_key='M1'"), 2);
  EXPECT_EQ(*db_->ActiveCount(), 2);
}

TEST_P(StateBackends, RunnableIsEarliestDeadlineFirstAndWakeTimesSkipWaitingJobs) {
  ASSERT_TRUE(db_->TakeIn(
      "a.csv", {Member("late", 300), Member("early", 100), Member("mid", 200), Member("x", 50, "elk")},
      0, 1));
  auto ids = db_->Runnable("bison", 10, 10);
  ASSERT_TRUE(ids) << ids.error().message;
  ASSERT_EQ(*ids, (std::vector<int64_t>{2, 3, 1}));
  EXPECT_EQ(*db_->Runnable("bison", 10, 2), (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(*db_->NextDue("bison", 10));  // all due now: nothing later to wake for
  for (auto [id, next] : {std::pair{int64_t{3}, int64_t{1000}}, std::pair{int64_t{1}, int64_t{500}}}) {
    auto job = db_->LoadJob(id);
    ASSERT_TRUE(job);
    job->next_ms = next;
    ASSERT_TRUE(db_->SaveJob(*job, job->state, 10));
  }
  EXPECT_EQ(*db_->Runnable("bison", 10, 10), (std::vector<int64_t>{2}));
  EXPECT_EQ(*db_->Runnable("bison", 600, 10), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(**db_->NextWake("bison"), 0);
  EXPECT_EQ(**db_->NextDue("bison", 10), 500);
  EXPECT_EQ(**db_->NextDue("bison", 500), 1000);
  EXPECT_FALSE(*db_->NextDue("aspen", 0));
  EXPECT_FALSE(*db_->NextWake("aspen"));
  // Terminal jobs are never runnable.
  ASSERT_TRUE(Move(*db_, 2, JobState::kNoMatch));
  EXPECT_EQ(*db_->Runnable("bison", 2000, 10), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(*db_->Runnable("elk", 2000, 10), (std::vector<int64_t>{4}));
}

TEST_P(StateBackends, WakeWaitingMakesOnlyThatErrorClassDue) {
  ASSERT_TRUE(db_->TakeIn("a.csv", {Member("a"), Member("b"), Member("c")}, 0, 1));
  for (int64_t id : {1, 2}) {
    auto job = db_->LoadJob(id);
    job->next_ms = 99999;
    job->error_class = id == 1 ? "auth" : "network";
    ASSERT_TRUE(db_->SaveJob(*job, job->state, 10));
  }
  auto woken = db_->WakeWaiting("bison", "auth", 50);
  ASSERT_TRUE(woken) << woken.error().message;
  EXPECT_EQ(*woken, 1);
  EXPECT_EQ(*db_->Runnable("bison", 50, 10), (std::vector<int64_t>{1, 3}));
}

TEST_P(StateBackends, ASaveKeepsEveryFieldAndASaveOverAnOperatorsChangeIsRefused) {
  ASSERT_TRUE(db_->TakeIn("a.csv", {Member("M1", 1234)}, 0, 1));
  auto job = db_->LoadJob(1);
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->row_json, "{}");
  EXPECT_EQ(job->deadline, 1234);
  job->state = JobState::kPolling;
  job->requested_ms = 7;
  job->attempts = 2;
  job->group_id = "g-1";
  job->member_identifier = "mi";
  job->poll_url = "http://h/poll";
  job->export_started_ms = 8;
  job->polls = 3;
  job->rekicks = 4;
  job->expired_rekicks = 1;
  job->transaction_time = "2026-01-05T16:08:38.956Z";
  job->requires_token = false;
  job->error_class = "network";
  job->error_detail = "GET /x: timeout";
  job->http_status = 503;
  job->throttled_since_ms = 9;
  job->next_ms = 11;
  ASSERT_TRUE(db_->SaveJob(*job, JobState::kPending, 5));
  auto back = db_->LoadJob(1);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state, JobState::kPolling);
  EXPECT_EQ(back->requested_ms, 7);
  EXPECT_EQ(back->group_id, "g-1");
  EXPECT_EQ(back->member_identifier, "mi");
  EXPECT_EQ(back->poll_url, "http://h/poll");
  EXPECT_EQ(back->export_started_ms, 8);
  EXPECT_EQ(back->polls, 3);
  EXPECT_EQ(back->failed_rekicks(), 3);
  EXPECT_EQ(back->transaction_time, "2026-01-05T16:08:38.956Z");
  EXPECT_FALSE(back->requires_token);
  EXPECT_EQ(back->error_detail, "GET /x: timeout");
  EXPECT_EQ(back->http_status, 503);
  EXPECT_EQ(back->throttled_since_ms, 9);
  EXPECT_EQ(back->next_ms, 11);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM events WHERE job_id=1 AND to_state=4"), 1);

  // The operator cancels while the daemon holds its copy as "polling".
  ASSERT_TRUE(Exec(db_->handle(), "UPDATE members SET state=11 WHERE id=1", "cancel"));
  back->state = JobState::kDownloading;
  auto r = db_->SaveJob(*back, JobState::kPolling, 6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kCancelled);
  EXPECT_EQ(r.error().message, "job 1 was changed by an operator");
  EXPECT_EQ(db_->LoadJob(1)->state, JobState::kCancelled);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM events WHERE job_id=1"), 1);  // nothing recorded
  EXPECT_EQ(db_->LoadJob(99).error().message, "job 99 not found");
}

TEST_P(StateBackends, ManifestFilesDoneMarksAndExportPagesCommitWithTheJob) {
  ASSERT_TRUE(db_->TakeIn("a.csv", {Member("M1")}, 0, 1));
  auto job = db_->LoadJob(1);
  ASSERT_TRUE(job);
  job->state = JobState::kDownloading;
  std::vector<FileRow> files(2);
  files[0] = {1, 0, FileKind::kOutput, "Patient", "http://h/p", FileState::kPending};
  files[1] = {1, 1, FileKind::kError, "OperationOutcome", "http://h/e", FileState::kPending};
  ASSERT_TRUE(db_->SaveFirstManifestPage(*job, JobState::kPending, files,
                                         ExportPage{5000, "http://h/page2", 1}, 20));
  std::vector<FileRow> more(1);
  more[0] = {1, 2, FileKind::kDeleted, "Patient", "http://h/d", FileState::kPending};
  ASSERT_TRUE(db_->AppendManifestPage(*job, JobState::kDownloading, more, ExportPage{5000, "", 2},
                                      21));
  auto page = db_->LoadExportPage(1);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->pages, 2);
  EXPECT_EQ(page->next_url, "");
  EXPECT_EQ(page->expires_ms, 5000);
  auto loaded = db_->LoadFiles(1);
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 3u);
  EXPECT_EQ((*loaded)[2].kind, FileKind::kDeleted);

  FileRow done = (*loaded)[0];
  done.state = FileState::kDone;
  done.lines = 3;
  done.stored = 2;
  done.bad_lines = 1;
  done.bytes = 300;
  ASSERT_TRUE(db_->FileDone(done, {{2, "not_json"}},
                            std::make_pair(std::string("Patient"), TypeMark{120, 40})));
  // Done again (a retried commit): the bad line is replaced, not doubled.
  ASSERT_TRUE(db_->FileDone(done, {{2, "not_json"}},
                            std::make_pair(std::string("Patient"), TypeMark{130, 50})));
  FileRow errors = (*loaded)[1];
  errors.state = FileState::kDone;
  ASSERT_TRUE(db_->ErrorFileDone(errors,
                                 {{1, 0, "error", "processing", "phi"},
                                  {2, 0, "error", "processing", "phi"},
                                  {2, 1, "warning", "informational", ""}},
                                 {}));
  ASSERT_TRUE(db_->SaveFileAttempts(1, 2, 4));
  auto after = db_->LoadFiles(1);
  EXPECT_EQ((*after)[0].state, FileState::kDone);
  EXPECT_EQ((*after)[0].stored, 2);
  EXPECT_EQ((*after)[0].bytes, 300);
  EXPECT_EQ((*after)[1].state, FileState::kDone);
  EXPECT_EQ((*after)[2].attempts, 4);
  EXPECT_EQ(db_->StoreMarks()->at("Patient").ndjson_end, 130);
  EXPECT_EQ(*db_->BadLineCount(), 1);
  auto issues = db_->ExportIssueCounts(1);
  ASSERT_TRUE(issues) << issues.error().message;
  ASSERT_EQ(issues->size(), 2u);
  EXPECT_EQ((*issues)[0].severity, "error");
  EXPECT_EQ((*issues)[0].count, 2);
  EXPECT_EQ((*issues)[1].code, "informational");

  // A re-kick replaces the manifest and forgets the old export's issues.
  ASSERT_TRUE(db_->SaveFirstManifestPage(*job, JobState::kDownloading, {}, ExportPage{}, 30));
  EXPECT_TRUE(db_->LoadFiles(1)->empty());
  EXPECT_TRUE(db_->ExportIssueCounts(1)->empty());
  ASSERT_TRUE(db_->ReplaceStoreMarks({{"Observation", TypeMark{7, 8}}}));
  auto marks = db_->StoreMarks();
  ASSERT_EQ(marks->size(), 1u);
  EXPECT_EQ(marks->begin()->second.index_end, 8);
}

// Many transitions of two payers: CountByState / CountByPayerState always equal a GROUP BY over
// the members, before and after CompactCounters (which folds PostgreSQL's deltas into one row per
// key, and is a no-op on SQLite).
TEST_P(StateBackends, CountsFollowEveryTransitionBeforeAndAfterCompaction) {
  std::vector<NewMember> members;
  for (int i = 0; i < 60; ++i) {
    members.push_back(Member("m" + std::to_string(i), 100 + i, i % 3 == 0 ? "elk" : "bison"));
  }
  ASSERT_TRUE(db_->TakeIn("a.csv", members, 0, 1));
  const JobState path[] = {JobState::kMatching, JobState::kMatched, JobState::kExporting,
                           JobState::kPolling, JobState::kDownloading};
  const JobState ends[] = {JobState::kComplete, JobState::kNoMatch, JobState::kFailed,
                           JobState::kCancelled};
  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    const CountRows grouped = GroupBy(*db_);
    EXPECT_EQ(Counted(*db_), grouped);
    auto by_state = db_->CountByState();
    ASSERT_TRUE(by_state) << by_state.error().message;
    std::array<int64_t, kJobStateCount> want{};
    int64_t active = 0;
    for (const auto& [payer, state, n] : grouped) {
      want[static_cast<size_t>(state)] += n;
      if (!IsTerminal(static_cast<JobState>(state))) active += n;
    }
    EXPECT_EQ(*by_state, want);
    EXPECT_EQ(*db_->ActiveCount(), active);
  };
  for (int round = 0; round < 3; ++round) {
    for (int64_t id = 1; id <= 60; ++id) {
      auto job = db_->LoadJob(id);
      ASSERT_TRUE(job);
      if (IsTerminal(job->state)) continue;
      const int step = static_cast<int>((id + round) % 7);
      ASSERT_TRUE(Move(*db_, id, step < 5 ? path[step] : ends[(id + round) % 4]));
    }
    check("after a round of transitions");
    ASSERT_TRUE(db_->CompactCounters());
    check("after compaction");
  }
  ASSERT_TRUE(Exec(db_->handle(), "DELETE FROM members WHERE id IN (1, 2, 3)", "delete"));
  ASSERT_TRUE(db_->TakeIn("b.csv", {Member("m0", 1, "elk"), Member("new")}, 0, 2));
  check("after deletes and new members");
  if (postgres()) {
    EXPECT_GT(Scalar("SELECT COUNT(*) FROM member_count_deltas"),
              Scalar("SELECT COUNT(*) FROM member_counts"));
    ASSERT_TRUE(db_->CompactCounters());
    // One row per (payer, state) with a count left: /status reads a few rows per payer.
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM member_count_deltas"),
              Scalar("SELECT COUNT(*) FROM member_counts WHERE n <> 0"));
  }
  check("after the last compaction");
}

// The deadline report against a recount from the members rows, through requests, terminal
// states, payer and deadline changes, deletes and (PostgreSQL) compaction.
TEST_P(StateBackends, DeadlineReportEqualsARecountThroughEveryChange) {
  constexpr int64_t kNowS = 1'800'000'000;
  constexpr int64_t kDay = 86400;
  std::vector<NewMember> members;
  for (int i = 0; i < 40; ++i) {
    members.push_back(Member("m" + std::to_string(i),
                             kNowS + (i % 8 - 4) * kDay + (i % 2 ? 0 : kDay - 1),
                             i % 3 == 0 ? "elk" : "bison"));
  }
  ASSERT_TRUE(db_->TakeIn("a.csv", members, 0, 1));
  auto request = [&](int64_t id, JobState to, int64_t requested_ms) {
    auto job = db_->LoadJob(id);
    ASSERT_TRUE(job);
    const JobState previous = job->state;
    job->state = to;
    job->requested_ms = requested_ms;
    ASSERT_TRUE(db_->SaveJob(*job, previous, 5));
  };
  for (int64_t id = 1; id <= 40; id += 3) request(id, JobState::kMatching, (kNowS - id * 3600) * 1000);
  for (int64_t id = 2; id <= 40; id += 5) request(id, JobState::kFailed, 0);
  request(4, JobState::kComplete, (kNowS - 3 * 3600) * 1000);
  Conn* h = db_->handle();
  ASSERT_TRUE(Exec(h, "UPDATE members SET payer='elk' WHERE id IN (5, 6)", "move payer"));
  ASSERT_TRUE(Exec(h, "UPDATE members SET deadline=deadline+86400 WHERE id IN (7, 10, 11)", "move"));
  ASSERT_TRUE(Exec(h, "DELETE FROM members WHERE id IN (8, 13, 14)", "delete"));

  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t now : {kNowS - 5 * kDay, kNowS, kNowS + 3 * kDay}) {
      auto report = db_->DeadlineReport(now, 2 * kDay);
      ASSERT_TRUE(report) << report.error().message;
      EXPECT_FALSE(report->empty());
      EXPECT_TRUE(*report == testing::RecountDeadlines(*db_, now, 2 * kDay))
          << "now " << now << " pass " << pass;
    }
    EXPECT_EQ(*db_->CountDeadlineBefore(kNowS, false),
              Scalar("SELECT COUNT(*) FROM members WHERE state<=5 AND requested_ms IS NULL AND "
                     "deadline < " + std::to_string(kNowS)));
    ASSERT_TRUE(db_->CompactCounters());
  }
}

TEST_P(StateBackends, HousekeepTrimsOnlyOldCompleteJobsInBatches) {
  // Member key -> (final state, completed_ms).
  const std::vector<std::tuple<std::string, JobState, int64_t>> jobs = {
      {"old1", JobState::kComplete, 100},   {"old2", JobState::kComplete, 200},
      {"old3", JobState::kComplete, 999},   {"recent", JobState::kComplete, 1000},
      {"failed", JobState::kFailed, 100},   {"running", JobState::kDownloading, 100}};
  for (const auto& [key, state, completed] : jobs) {
    auto in = db_->TakeIn(key + ".csv", {Member(key)}, 0, 1);
    ASSERT_TRUE(in);
    const int64_t id = Scalar("SELECT MAX(id) FROM members");
    auto job = db_->LoadJob(id);
    job->state = JobState::kDownloading;
    std::vector<FileRow> files(2);
    files[0] = {id, 0, FileKind::kOutput, "Patient", "http://h/p", FileState::kPending};
    files[1] = {id, 1, FileKind::kError, "OperationOutcome", "http://h/e", FileState::kPending};
    ASSERT_TRUE(db_->SaveManifest(*job, JobState::kPending, files, 2));
    FileRow done = files[0];
    done.state = FileState::kDone;
    ASSERT_TRUE(db_->FileDone(done, {{7, "not_json"}}, std::nullopt));
    job->state = state;
    job->completed_ms = state == JobState::kComplete ? completed : 0;
    ASSERT_TRUE(db_->SaveJob(*job, JobState::kDownloading, completed));
  }
  auto trimmed = db_->Housekeep(1000, 2);  // two transactions: 2 + 1 jobs
  ASSERT_TRUE(trimmed) << trimmed.error().message;
  EXPECT_EQ(*trimmed, 3);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM files WHERE job_id <= 3"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM bad_lines WHERE job_id <= 3"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM files WHERE job_id > 3"), 6);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM events WHERE job_id = 1"), 2);  // the summary stays
  EXPECT_EQ(*db_->Housekeep(1000, 2), 0);
  EXPECT_EQ(*db_->Housekeep(1001, 100), 1);
  EXPECT_EQ(db_->Housekeep(1, 0).error().message, "housekeep: max_jobs must be positive");
}

// The status endpoint's snapshot (status/status_queries.h) reads the same on both backends.
TEST_P(StateBackends, StatusSnapshotCountsStatesDeadlinesAndErrorClasses) {
  constexpr int64_t kNowMs = 1'800'000'000'000;
  ASSERT_TRUE(db_->TakeIn("a.csv",
                          {Member("past", kNowMs / 1000 - 10), Member("near", kNowMs / 1000 + 60),
                           Member("far", kNowMs / 1000 + 90 * 86400),
                           Member("elk", kNowMs / 1000 - 5, "elk")},
                          0, 1));
  auto job = db_->LoadJob(3);
  job->state = JobState::kFailed;
  job->error_class = "network";
  ASSERT_TRUE(db_->SaveJob(*job, JobState::kPending, kNowMs - 1000));
  ASSERT_TRUE(db_->CompactCounters());
  StatusQueries q(*db_);
  auto prepared = q.Prepare();
  ASSERT_TRUE(prepared) << prepared.error().message;
  StatusServerSettings settings;
  settings.now_ms = [] { return kNowMs; };
  auto snap = q.Read(settings);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(snap->by_state[0], 3);
  EXPECT_EQ(snap->by_state[static_cast<size_t>(JobState::kFailed)], 1);
  ASSERT_EQ(snap->payers.size(), 2u);
  EXPECT_EQ(snap->payers[0].payer, "bison");
  EXPECT_EQ(snap->payers[0].active, 2);
  EXPECT_EQ(snap->payers[0].deadline_past, 1);
  EXPECT_EQ(snap->payers[0].deadline_near, 1);
  EXPECT_EQ(snap->payers[1].deadline_past, 1);
  ASSERT_EQ(snap->errors.size(), 1u);
  EXPECT_EQ(snap->errors[0].error_class, "network");
  EXPECT_EQ(snap->errors[0].last_at_ms, kNowMs - 1000);
  EXPECT_EQ(snap->errors[0].count_window, 1);
  ASSERT_EQ(snap->deadlines.size(), 2u);
  EXPECT_EQ(snap->deadlines[0].late, 1);
  EXPECT_EQ(snap->deadlines[0].at_risk, 1);
  q.Finalize();
}

INSTANTIATE_TEST_SUITE_P(Backends, StateBackends, kStateBackends, BackendName);

}  // namespace
}  // namespace p2p::state
