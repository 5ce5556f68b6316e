// The PostgreSQL store's server going away while the daemon runs: downloads pause ("storage"
// unreachable in /status, "store is unreachable" in the log), nothing fails, and the run
// completes once the server is back. The same for a job's deleted[] file, whose deletions wait
// for the server, and for a consent revocation's purge.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "postgres/pg_daemon_test.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

class PgOutage : public PgDaemonTest {
 protected:
  void StartDaemon(DaemonHarness& h) {
    std::string err;
    daemon_ = h.StartDaemon(&err);
    ASSERT_NE(daemon_, nullptr) << err;
  }
  bool Exited() { return daemon_->Wait(std::chrono::milliseconds(0)).has_value(); }
  // Waits until the daemon's log says the store is unreachable; the daemon still runs.
  void WaitUntilUnreachable(const DaemonHarness& h) {
    ASSERT_TRUE(WaitUntil(
        [&] {
          return Exited() ||
                 h.Log().find("store is unreachable: downloads paused") != std::string::npos;
        },
        std::chrono::seconds(20)))
        << h.Log();
    ASSERT_FALSE(Exited()) << h.Log();
  }
  // Starts the server again and waits until every member is terminal; the daemon still runs.
  void StartAgainAndDrain(const DaemonHarness& h) {
    std::string err;
    ASSERT_TRUE(pg_->StartAgain(&err)) << err;
    ASSERT_TRUE(WaitUntil(
        [&] {
          return Exited() || h.CountRows("SELECT COUNT(*) FROM members WHERE state <= 5") == 0;
        },
        std::chrono::seconds(60)))
        << h.Log();
    ASSERT_FALSE(Exited()) << h.Log();
  }
  // SIGTERM: the daemon exits 0 (and has flushed its log).
  void StopDaemon() {
    daemon_->Signal(SIGTERM);
    EXPECT_EQ(daemon_->Wait(std::chrono::seconds(20)), 0);
  }

  std::unique_ptr<ChildProcess> daemon_;  // destroyed (SIGTERM) before the cluster
};

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
  ASSERT_NO_FATAL_FAILURE(StartDaemon(h));
  const std::string base = h.StatusBase();
  ASSERT_NE(base, "") << h.Log();
  auto stored_files = [&] {
    return h.CountRows("SELECT COUNT(*) FROM files WHERE state = 1 AND kind = 0");
  };
  ASSERT_TRUE(WaitUntil([&] { return stored_files() >= 10; }, 30s)) << h.Log();

  std::string err;
  ASSERT_TRUE(pg_->Stop(&err)) << err;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return StatusJson(base).find(R"("storage":{"state":"unreachable","since_s":)") !=
               std::string::npos;
      },
      20s))
      << StatusJson(base);
  ASSERT_NO_FATAL_FAILURE(WaitUntilUnreachable(h));
  // Held down past the whole retry budget (4 attempts, backoff at most 200 ms): the matches,
  // exports and polls go on, the downloads wait, nothing fails and nothing is marked stored.
  std::this_thread::sleep_for(300ms);  // commits reported before the outage land
  const int64_t stored_while_down = stored_files();
  const auto hold_until = std::chrono::steady_clock::now() + 2500ms;
  while (std::chrono::steady_clock::now() < hold_until) {
    ASSERT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE state = 10"), 0);
    ASSERT_EQ(h.CountRows("SELECT COUNT(*) FROM files WHERE state = 2"), 0);
    ASSERT_NE(StatusJson(base).find(R"("storage":{"state":"unreachable")"), std::string::npos);
    ASSERT_FALSE(Exited()) << h.Log();
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(stored_files(), stored_while_down);
  EXPECT_GT(h.CountRows("SELECT COUNT(*) FROM members WHERE state = 5"), 0);

  ASSERT_NO_FATAL_FAILURE(StartAgainAndDrain(h));
  EXPECT_NE(StatusJson(base).find(R"("storage":{"state":"ok"})"), std::string::npos)
      << StatusJson(base);
  StopDaemon();
  EXPECT_EQ(DiffFromExpected(h), "");
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM files WHERE state = 2"), 0);
  EXPECT_NE(h.Log().find("store takes writes again: downloads resume"), std::string::npos);
}

// A deleted[] file (applied after its job's output files) whose deletions meet a server that is
// down: the job waits for the server like a download, the daemon goes on.
TEST_F(PgOutage, ADeletedFileMetWhileTheServerIsDownWaitsForIt) {
  HarnessOptions o = Options();
  o.members = 2;
  o.job_delay = "0ms";
  o.faults = "file:delay=2s";  // a window between a job's last output file and its deletions
  o.sandbox_args = {"--deleted-files", "1"};
  o.store_retry_interval = "100ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  ASSERT_NO_FATAL_FAILURE(StartDaemon(h));
  // A job with every output file stored and its deleted[] file being downloaded.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return h.CountRows(
                   "SELECT COUNT(*) FROM files d WHERE d.kind = 2 AND d.state = 0 AND "
                   "NOT EXISTS (SELECT 1 FROM files f WHERE f.job_id = d.job_id AND "
                   "f.kind = 0 AND f.state <> 1)") > 0;
      },
      30s))
      << h.Log();
  std::string err;
  ASSERT_TRUE(pg_->Stop(&err)) << err;
  ASSERT_NO_FATAL_FAILURE(WaitUntilUnreachable(h));
  // Down past the end of the deleted[] file's download (its 2 s delay): the daemon stays up.
  EXPECT_FALSE(daemon_->Wait(2500ms).has_value()) << h.Log();
  ASSERT_NO_FATAL_FAILURE(StartAgainAndDrain(h));
  StopDaemon();
  // The deletions really met the server down (and waited for it).
  EXPECT_TRUE(
      std::regex_search(h.Log(), std::regex("deleted file [0-9]+: store cannot take writes")))
      << h.Log();

  // Every member at its outcome; the store holds what expected.json gives less the first
  // Observation of each complete member, which its deleted[] file removed.
  const Expected want = h.LoadExpected();
  const auto states = h.MemberStates();
  std::set<std::string> deleted_for;
  for (const auto& [key, outcome] : want.outcome) {
    EXPECT_EQ(states.at(key), outcome) << key;
  }
  for (const auto& [key, id] : want.resources.at("Observation")) deleted_for.insert(key);
  const Expected got = h.LoadStore();
  size_t want_rows = 0, got_rows = 0;
  for (const auto& [type, ids] : want.resources) want_rows += ids.size();
  for (const auto& [type, ids] : got.resources) {
    got_rows += ids.size();
    for (const auto& id : ids) EXPECT_EQ(want.resources.at(type).count(id), 1u) << id.second;
  }
  EXPECT_EQ(got_rows, want_rows - deleted_for.size());
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM files WHERE kind = 2 AND state = 1"),
            static_cast<int64_t>(deleted_for.size()));
}

// Drops a roster of `key`'s row alone whose lifecycle columns say its consent is revoked.
void DropRevocation(const DaemonHarness& h, const std::string& key) {
  std::istringstream roster(ReadFile((h.dir() / "roster" / "members.csv").string()));
  std::string header;
  std::getline(roster, header);
  std::string out = header + ",concurrent,coverage_end,consent_revoked\n";
  for (std::string row; std::getline(roster, row);) {
    if (row.rfind(key + ",", 0) == 0) out += row + ",false,,true\n";
  }
  std::ofstream(h.inbox() / ".revocations.tmp") << out;
  std::filesystem::rename(h.inbox() / ".revocations.tmp", h.inbox() / "revocations.csv");
}

// A consent revocation's purge (consent.on_revocation: purge) due while the server is down stays
// pending, the run goes on, and the next run with the server back purges.
TEST_F(PgOutage, APurgeDueWhileTheServerIsDownWaitsForIt) {
  HarnessOptions o = Options();
  o.members = 5;
  o.job_delay = "0ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  std::ofstream(h.config_path(), std::ios::app) << "consent:\n  on_revocation: purge\n";
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  const Expected want = h.LoadExpected();
  std::string gone;
  for (const auto& [key, outcome] : want.outcome) {
    if (outcome == "complete" && gone.empty()) gone = key;
  }
  ASSERT_NE(gone, "");
  DropRevocation(h, gone);
  const std::string purged = "SELECT COUNT(*) FROM member_lifecycle WHERE member_key = '" + gone +
                             "' AND purged_ms IS NOT NULL AND purge_requested = 0";

  std::string err;
  ASSERT_TRUE(pg_->Stop(&err)) << err;
  EXPECT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  EXPECT_EQ(h.CountRows(purged), 0);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM member_lifecycle WHERE member_key = '" + gone +
                        "' AND purge_requested = 1"),
            1);
  ASSERT_TRUE(pg_->StartAgain(&err)) << err;
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  EXPECT_EQ(h.CountRows(purged), 1);
  Expected left = want;
  for (auto& [type, ids] : left.resources) {
    std::erase_if(ids, [&](const auto& p) { return p.first == gone; });
  }
  std::erase_if(left.resources, [](const auto& kv) { return kv.second.empty(); });
  EXPECT_TRUE(h.LoadStore().resources == left.resources);
}

// A daemon started while the server is down: the store opens without it (its schema is
// prepared on the first connection), the downloads wait for it.
TEST_F(PgOutage, ADaemonStartedWhileTheServerIsDownWaitsForIt) {
  HarnessOptions o = Options();
  o.members = 10;
  o.job_delay = "0ms";
  o.store_retry_interval = "100ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  std::string err;
  ASSERT_TRUE(pg_->Stop(&err)) << err;
  h.DropRoster("members.csv");
  ASSERT_NO_FATAL_FAILURE(StartDaemon(h));
  ASSERT_NO_FATAL_FAILURE(WaitUntilUnreachable(h));
  ASSERT_NO_FATAL_FAILURE(StartAgainAndDrain(h));
  StopDaemon();
  EXPECT_EQ(DiffFromExpected(h), "");
}

}  // namespace
}  // namespace p2p::testing
