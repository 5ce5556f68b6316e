// The PostgreSQL store's server going away while the daemon runs: downloads pause ("storage"
// unreachable in /status, "store is unreachable" in the log), nothing fails, and the run
// completes once the server is back.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "postgres/pg_daemon_test.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

using PgOutage = PgDaemonTest;

TEST_F(PgOutage, AServerDownPausesDownloadsFailsNothingAndTheRunCompletesWhenItIsBack) {
  HarnessOptions o = Options();
  o.members = 60;
  o.job_delay = "200ms";
  o.concurrency = 8;
  o.max_attempts = 4;  // a store outage counted as failed attempts would fail files in < 1 s
  o.status_listen = "127.0.0.1:0";
  o.store_retry_interval = "100ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  std::string err;
  auto daemon = h.StartDaemon(&err);
  ASSERT_NE(daemon, nullptr) << err;
  const std::string base = h.StatusBase();
  ASSERT_NE(base, "") << h.Log();
  auto stored_files = [&] {
    return h.CountRows("SELECT COUNT(*) FROM files WHERE state = 1 AND kind = 0");
  };
  ASSERT_TRUE(WaitUntil([&] { return stored_files() >= 10; }, 30s)) << h.Log();

  ASSERT_TRUE(pg_->Stop(&err)) << err;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return StatusJson(base).find(R"("storage":{"state":"unreachable","since_s":)") !=
               std::string::npos;
      },
      20s))
      << StatusJson(base);
  ASSERT_TRUE(WaitUntil(
      [&] { return h.Log().find("store is unreachable: downloads paused") != std::string::npos; },
      5s))
      << h.Log();
  // Held down past the whole retry budget (4 attempts, backoff at most 200 ms): the matches,
  // exports and polls go on, the downloads wait, nothing fails and nothing is marked stored.
  std::this_thread::sleep_for(300ms);  // commits reported before the outage land
  const int64_t stored_while_down = stored_files();
  const auto hold_until = std::chrono::steady_clock::now() + 2500ms;
  while (std::chrono::steady_clock::now() < hold_until) {
    ASSERT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE state = 10"), 0);
    ASSERT_EQ(h.CountRows("SELECT COUNT(*) FROM files WHERE state = 2"), 0);
    ASSERT_NE(StatusJson(base).find(R"("storage":{"state":"unreachable")"), std::string::npos);
    ASSERT_FALSE(daemon->Wait(0ms).has_value()) << h.Log();
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(stored_files(), stored_while_down);
  EXPECT_GT(h.CountRows("SELECT COUNT(*) FROM members WHERE state = 5"), 0);

  ASSERT_TRUE(pg_->StartAgain(&err)) << err;
  ASSERT_TRUE(WaitUntil(
      [&] { return h.CountRows("SELECT COUNT(*) FROM members WHERE state <= 5") == 0; }, 60s))
      << h.Log();
  EXPECT_NE(StatusJson(base).find(R"("storage":{"state":"ok"})"), std::string::npos)
      << StatusJson(base);
  daemon->Signal(SIGTERM);
  EXPECT_EQ(daemon->Wait(20s), 0);
  EXPECT_EQ(DiffFromExpected(h), "");
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM files WHERE state = 2"), 0);
  EXPECT_NE(h.Log().find("store takes writes again: downloads resume"), std::string::npos);
}

}  // namespace
}  // namespace p2p::testing
