// Failover: two p2p-ingestd daemons share the PostgreSQL state and store. The daemon running a
// member's download is SIGKILLed; the other one takes the job over once the dead daemon's lease
// lapses (state.lease_timeout after its last renewal at most) and its scheduler next looks (at
// most one poll interval later), then completes the member. Measured from the kill to the
// member's completed state, and printed.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>

#include "integration/daemon_harness.h"
#include "postgres/pg_daemon_test.h"
#include "postgres/pg_query.h"
#include "support/http_client.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The harness's state.lease_timeout with state "postgres".
constexpr auto kLeaseTimeout = 5s;
// The scheduler's poll: a payer's loop looks for runnable jobs at least this often (a lapsed
// lease wakes nobody: its daemon is dead).
constexpr auto kSchedulerPoll = 1s;
// This 2-core machine runs other builds and tests meanwhile: the job's last steps (its remaining
// downloads, the store commits) and the test's own polling of the state take a while.
constexpr auto kSlack = 3s;

class PgFailover : public PgDaemonTest {};

TEST_F(PgFailover, AnotherDaemonCompletesAKilledDaemonsDownloadWithinLeaseAndPoll) {
  HarnessOptions o = Options();
  o.state = "postgres";
  o.members = 8;
  o.concurrency = 16;  // the survivor has room for the job whatever it runs itself
  // Every download hangs at the sandbox: a member is caught downloading.
  o.faults = "file:delay=30s";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  std::string err;
  auto a = h.StartDaemon(&err, {}, "a");
  ASSERT_TRUE(a) << err;
  auto b = h.StartDaemon(&err, {}, "b");
  ASSERT_TRUE(b) << err;
  PgQuery q(*pg_);
  auto joined = [&](const ChildProcess& d, const std::string& id) {
    return q.Count("SELECT COUNT(*) FROM p2p_state.instances WHERE id LIKE '" + id + "/" +
                   std::to_string(d.pid()) + "/%'") > 0;
  };
  ASSERT_TRUE(WaitUntil([&] { return joined(*a, "a") && joined(*b, "b"); }, 20s));
  h.DropRoster("members.csv");

  // A member downloading, and its lease owner "<instance.id>/<pid>/<start ms>".
  PgQuery::Row job;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto rows = q.Rows(
            "SELECT id, lease_owner FROM p2p_state.members WHERE state = 5 AND lease_owner IS "
            "NOT NULL ORDER BY id LIMIT 1");
        if (rows && !rows->empty()) job = rows->front();
        return !job.empty();
      },
      30s));
  const std::string id = job.at(0);
  const bool a_runs_it = job.at(1).rfind("a/" + std::to_string(a->pid()) + "/", 0) == 0;
  ASSERT_TRUE(a_runs_it || job.at(1).rfind("b/" + std::to_string(b->pid()) + "/", 0) == 0)
      << job.at(1);
  ChildProcess& dead = a_runs_it ? *a : *b;
  const std::string survivor = a_runs_it ? "b" : "a";

  dead.Signal(SIGKILL);
  const auto killed_at = Clock::now();
  ASSERT_TRUE(dead.Wait(5s).has_value());
  // Downloads are quick again: what is measured is the takeover, not the sandbox's delay.
  HttpClient admin(h.SandboxUrl());
  ASSERT_EQ(admin.Request("PUT", "/admin/faults", "none").status, 200);

  std::string state;
  ASSERT_TRUE(WaitUntil(
      [&] {
        state = q.Value("SELECT state FROM p2p_state.members WHERE id = " + id).value_or("?");
        return state == "6";
      },
      kLeaseTimeout + kSchedulerPoll + 20s))
      << "job " << id << " is in state " << state;
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at);
  std::printf(
      "failover: job %s completed by instance %s %lld ms after its daemon was killed "
      "(lease_timeout %lld ms + poll %lld ms, slack %lld ms)\n",
      id.c_str(), survivor.c_str(), static_cast<long long>(took.count()),
      static_cast<long long>(std::chrono::milliseconds(kLeaseTimeout).count()),
      static_cast<long long>(std::chrono::milliseconds(kSchedulerPoll).count()),
      static_cast<long long>(std::chrono::milliseconds(kSlack).count()));
  std::fflush(stdout);
  EXPECT_LE(took, kLeaseTimeout + kSchedulerPoll + kSlack);
  // The survivor completed it: its log says so (once flushed).
  EXPECT_TRUE(WaitUntil(
      [&] {
        std::istringstream log(h.Log(survivor));
        for (std::string line; std::getline(log, line);) {
          if (line.find("job " + id + " member ") != std::string::npos &&
              line.find("-> complete") != std::string::npos) {
            return true;
          }
        }
        return false;
      },
      10s))
      << h.Log(survivor);

  // And the whole run ends as expected with one daemon left.
  ASSERT_TRUE(WaitUntil(
      [&] { return q.Count("SELECT COUNT(*) FROM p2p_state.members WHERE state <= 5") == 0; },
      60s));
  EXPECT_EQ(DiffFromExpected(h), "");
  EXPECT_EQ(q.Count("SELECT COUNT(*) FROM p2p_state.members WHERE lease_owner IS NOT NULL"), 0);
}

}  // namespace
}  // namespace p2p::testing
