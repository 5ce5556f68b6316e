// Streaming member intake end to end: p2p-ingestd SIGKILLed while it takes a big member file
// in, then restarted, takes the rest of the file without a double job or a lost row.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "integration/daemon_harness.h"
#include "support/child_process.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

TEST(Intake, SigkillMidFileResumesWithoutDoubleJobsOrLostRows) {
  HarnessOptions o;
  o.members = 30000;  // three committed batches of 10,000
  o.job_delay = "10s";  // the sandbox's exports stay running: only the intake matters here
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  const auto processed = h.inbox() / "processed" / "members.csv";

  std::string error;
  auto daemon = h.StartDaemon(&error);
  ASSERT_TRUE(daemon) << error;
  // Killed once the first batch is committed and before the file is done.
  ASSERT_TRUE(WaitUntil(
      [&] { return h.CountRows("SELECT COUNT(*) FROM source_intake WHERE done_line > 0") > 0; },
      20s));
  daemon->Signal(SIGKILL);
  ASSERT_EQ(daemon->Wait(20s), 128 + SIGKILL);
  // Claimed (inbox/claimed/<host name>/), not finished: the restarted daemon resumes it.
  ASSERT_TRUE(h.Waiting("members.csv")) << "the file was done before the kill";
  const int64_t before = h.CountRows("SELECT COUNT(*) FROM members");
  EXPECT_GE(before, 10000);
  EXPECT_LT(before, 30000);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM source_files"), 0);

  daemon = h.StartDaemon(&error);
  ASSERT_TRUE(daemon) << error;
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(processed); }, 30s));
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members"), 30000);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM (SELECT 1 FROM members GROUP BY member_key, payer "
                        "HAVING COUNT(*) > 1)"),
            0);
  EXPECT_EQ(h.CountRows("SELECT rows_ok FROM source_files WHERE name = 'members.csv'"), 30000);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM source_intake"), 0);
  EXPECT_FALSE(std::filesystem::exists(h.inbox() / "rejected" / "members.csv.errors"));
}

}  // namespace
}  // namespace p2p::testing
