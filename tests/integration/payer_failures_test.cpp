// Prior-payer failures end to end: p2p-ingestd against p2p-sandbox with faults.
// An export reported failed is kicked off again up to export.max_rekicks, then the job fails;
// expired files (410) make a new export whose files are downloaded; polling past poll.timeout
// fails the job; a token endpoint that is down only makes jobs wait; an operator's cancel sends
// the Bulk Data DELETE to the export's status URL (export.cancel_with_delete).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "integration/daemon_harness.h"
#include "support/http_client.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

// Replaces `from` (once) in the harness's config, then appends `tail` (payer keys, 4 spaces).
void EditConfig(const DaemonHarness& h, const std::string& from, const std::string& to,
                const std::string& tail = "") {
  std::string text = ReadFile(h.config_path());
  if (!from.empty()) {
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  }
  std::ofstream(h.config_path(), std::ios::trunc) << text << tail;
}

// A number from the sandbox's /admin/stats, e.g. "\"export\":" or "\"jobs_cancelled\":".
int64_t Stat(const DaemonHarness& h, const std::string& key) {
  HttpClient c(h.SandboxUrl());
  const std::string body = c.Get("/admin/stats").body;
  const size_t at = body.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(body.substr(at + key.size()));
}

// Members whose expected outcome is `complete`.
std::vector<std::string> Completing(const DaemonHarness& h) {
  std::vector<std::string> keys;
  for (const auto& [key, outcome] : h.LoadExpected().outcome) {
    if (outcome == "complete") keys.push_back(key);
  }
  return keys;
}

// "" when every member has its expected outcome and the store holds exactly the expected ids.
std::string Diff(const DaemonHarness& h) {
  const Expected want = h.LoadExpected();
  const auto states = h.MemberStates();
  std::string out;
  for (const auto& [key, outcome] : want.outcome) {
    auto it = states.find(key);
    const std::string have = it == states.end() ? "(missing)" : it->second;
    if (have != outcome) out += key + ": want " + outcome + ", have " + have + "\n";
  }
  const Expected got = h.LoadStore();
  if (got.resources != want.resources) out += "store differs from expected.json\n";
  for (const auto& [k, v] : got.outcome) out += k + ": " + v + "\n";
  return out;
}

TEST(PayerFailures, AnExportReportedFailedIsKickedOffAgainWithinTheBudgetThenFails) {
  HarnessOptions o;
  o.members = 8;
  o.faults = "job:fail";
  o.job_delay = "0ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  EditConfig(h, "", "", "    export:\n      max_rekicks: 2\n");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  const auto states = h.MemberStates();
  const auto completing = Completing(h);
  ASSERT_FALSE(completing.empty());
  for (const std::string& key : completing) {
    EXPECT_EQ(states.at(key), "failed (export_failed: export reported failure (after 2 re-kicks; "
                                "export.max_rekicks: 2))")
        << key;
  }
  EXPECT_EQ(Stat(h, "\"export\":"), 3 * static_cast<int64_t>(completing.size()));
}

TEST(PayerFailures, ExpiredFilesMakeANewExportWhoseFilesAreDownloaded) {
  HarnessOptions o;
  o.members = 12;
  o.faults = "file:410@every11";
  o.job_delay = "0ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  EXPECT_EQ(Diff(h), "");
  EXPECT_GT(h.CountRows("SELECT SUM(rekicks) FROM members"), 0);
  EXPECT_GT(Stat(h, "\"export\":"), static_cast<int64_t>(Completing(h).size()));
}

TEST(PayerFailures, PollingPastPollTimeoutFailsTheJob) {
  HarnessOptions o;
  o.members = 6;
  o.job_delay = "30s";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  EditConfig(h, "timeout: 2m", "timeout: 300ms");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(30s), 0) << h.last_run().err;
  const auto states = h.MemberStates();
  for (const std::string& key : Completing(h)) {
    EXPECT_EQ(states.at(key), "failed (poll_timeout: export not complete after poll.timeout)")
        << key;
  }
}

TEST(PayerFailures, ATokenEndpointThatIsDownMakesJobsWaitAndNeverFailsThem) {
  HarnessOptions o;
  o.members = 8;
  o.faults = "token:503";
  o.max_attempts = 3;
  o.job_delay = "0ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  std::string error;
  auto daemon = h.StartDaemon(&error);
  ASSERT_TRUE(daemon) << error;
  // Well past retry.max_attempts for every job: each would have failed without the wait.
  ASSERT_TRUE(WaitUntil([&] { return Stat(h, "\"token\":") >= 12 * o.max_attempts; }, 20s));
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE state=10"), 0);
  EXPECT_GT(h.CountRows("SELECT COUNT(*) FROM members WHERE error_class='auth' AND state<=5"), 0);
  HttpClient admin(h.SandboxUrl());
  ASSERT_EQ(admin.Request("PUT", "/admin/faults", "none").status, 200);
  EXPECT_TRUE(WaitUntil([&] { return h.CountRows("SELECT COUNT(*) FROM members WHERE state<=5") == 0; },
                        30s));
  daemon->Signal(SIGTERM);
  EXPECT_EQ(daemon->Wait(20s), 0);
  EXPECT_EQ(Diff(h), "");
}

// Runs the daemon with exports that take a minute, cancels one polling member with the operator
// command, and returns after the daemon has dealt with its poll URL.
struct CancelRun {
  std::string key;
  int64_t job_id = 0;
  int64_t deletes = -1;
  std::string cancel_out;
  std::map<std::string, std::string> states;
};

CancelRun CancelOnePollingMember(bool cancel_with_delete) {
  CancelRun run;
  HarnessOptions o;
  o.members = 6;
  o.job_delay = "60s";
  DaemonHarness h(o);
  EXPECT_EQ(h.Start(), "");
  if (!cancel_with_delete) EditConfig(h, "", "", "    export:\n      cancel_with_delete: false\n");
  h.DropRoster("members.csv");
  std::string error;
  auto daemon = h.StartDaemon(&error);
  EXPECT_TRUE(daemon) << error;
  if (!daemon) return run;
  run.key = Completing(h).front();
  const std::string where = "FROM members WHERE member_key='" + run.key + "'";
  EXPECT_TRUE(WaitUntil(
      [&] { return h.CountRows("SELECT COUNT(*) " + where + " AND state=4") == 1; }, 20s));
  run.job_id = h.CountRows("SELECT id " + where);
  CommandResult c = RunCommand(IngestdExecutable(), {"cancel", run.key, "--config", h.config_path()});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  run.cancel_out = c.out;
  EXPECT_TRUE(WaitUntil(
      [&] { return h.CountRows("SELECT COUNT(*) " + where + " AND poll_url IS NULL") == 1; }, 20s));
  run.deletes = Stat(h, "\"jobs_cancelled\":");
  daemon->Signal(SIGTERM);
  EXPECT_EQ(daemon->Wait(20s), 0);
  run.states = h.MemberStates();
  return run;
}

TEST(PayerFailures, CancelStopsTheMemberAndDeletesItsRunningExport) {
  CancelRun run = CancelOnePollingMember(true);
  ASSERT_FALSE(run.key.empty());
  EXPECT_EQ(run.cancel_out, "job " + std::to_string(run.job_id) + " (member " + run.key +
                                ", payer bison): polling -> cancelled; the daemon cancels its "
                                "export at the payer\n");
  EXPECT_EQ(run.deletes, 1);
  EXPECT_EQ(run.states[run.key], "cancelled");
}

TEST(PayerFailures, CancelSendsNoDeleteToAPayerThatDoesNotAllowIt) {
  CancelRun run = CancelOnePollingMember(false);
  ASSERT_FALSE(run.key.empty());
  EXPECT_EQ(run.deletes, 0);
  EXPECT_EQ(run.states[run.key], "cancelled");
}

}  // namespace
}  // namespace p2p::testing
