// `p2p-ingestd status` reports CMS-0057-F deadlines per payer: the real binary, a real
// state DB (migrations included) and the config key deadline.at_risk_within.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "state/state_db.h"
#include "support/child_process.h"
#include "support/sandbox_process.h"
#include "support/temp_dir.h"

namespace p2p {
namespace {

constexpr int64_t kHour = 3600;

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(DeadlineStatus, IngestdStatusPrintsOnTimeLateAndAtRiskPerPayer) {
  testing::TempDir dir("p2p-deadline-cli-");
  std::ofstream(dir.File("p2p.yaml")) << "state: {path: state.db}\n"
                                         "store: {path: r.db}\n"
                                         "status: {listen: 'off'}\n"
                                         "source: {path: inbox}\n"
                                         "deadline: {at_risk_within: 12h}\n"
                                         "payers:\n"
                                         "  - id: bison\n"
                                         "    base_url: https://bison.example/v1\n"
                                         "    auth: {token_url: https://bison.example/t, "
                                         "client_id: c, client_secret_env: P2P_DEADLINE_UNSET}\n";
  // Margins of hours around the binary's own clock: the test does not depend on timing.
  const int64_t now = NowS();
  {
    auto db = state::StateDb::Open(dir.File("state.db"));
    ASSERT_TRUE(db) << db.error().message;
    auto add = [&](const std::string& key, const std::string& payer, int64_t deadline,
                   int64_t requested_s) {
      state::NewMember m{key, payer, "{}", deadline, 30000, 1};
      ASSERT_TRUE((*db)->TakeIn(key + ".csv", {m}, 0, now * 1000));
      if (requested_s == 0) return;
      auto id = (*db)->Runnable(payer, (now + 100 * kHour) * 1000, 100);
      ASSERT_TRUE(id);
      for (int64_t job_id : *id) {
        auto job = (*db)->LoadJob(job_id);
        ASSERT_TRUE(job);
        if (job->member_key != key) continue;
        job->state = JobState::kMatching;
        job->requested_ms = requested_s * 1000;
        ASSERT_TRUE((*db)->SaveJob(*job, JobState::kPending, requested_s * 1000));
      }
    };
    add("on-time", "bison", now - 48 * kHour, now - 50 * kHour);
    add("late", "bison", now - 48 * kHour, now - 46 * kHour);
    add("waited-too-long", "bison", now - 2 * kHour, 0);
    add("due-soon", "bison", now + 6 * kHour, 0);
    add("due-later", "bison", now + 18 * kHour, 0);
    add("elk-soon", "elk", now + kHour, 0);
  }
  testing::CommandResult r = testing::RunCommand(
      testing::IngestdExecutable(), {"status", "--config=" + dir.File("p2p.yaml")},
      std::chrono::seconds(20));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nCMS-0057-F deadlines per payer (AT_RISK: not yet requested, due within "
                       "12h)\n"
                       "  PAYER  ON_TIME  LATE  AT_RISK\n"
                       "  bison  1        2     1\n"
                       "  elk    0        0     1\n"),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace p2p
