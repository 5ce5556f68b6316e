// The bounds over all payers end to end: 50 payers on one p2p-sandbox, 4 members each, each payer
// allowed 4 jobs (200 at once without the top-level limits). With limits.max_jobs_in_flight 3,
// max_requests 6 and max_downloads 2, every member still reaches its expected outcome with the
// expected resources, and the sandbox, which counts the requests it answers at once on its own
// side, never saw more API requests than jobs allowed in flight (a job sends one at a time),
// more downloads than max_downloads, or more requests in all than max_requests.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "integration/daemon_harness.h"

namespace p2p::testing {
namespace {

constexpr int kPayers = 50;
constexpr int kJobs = 3;
constexpr int kRequests = 6;
constexpr int kDownloads = 2;

std::string PayerId(int i) { return i == 0 ? "bison" : "p" + std::to_string(100 + i); }

// Payers 1..49 beside the harness's bison (same sandbox tenant and client), the top-level
// limits, and the roster's members spread over the 50 payers.
void SpreadOverPayers(const DaemonHarness& h) {
  const std::string url = h.SandboxUrl();
  std::ofstream c(h.config_path(), std::ios::app);
  for (int i = 1; i < kPayers; ++i) {
    c << "  - id: " << PayerId(i) << "\n"
      << "    base_url: " << url << "/v1/bison\n"
      << "    member_match_path: /member-match-sandbox/$member-match\n"
      << "    export_path: /bulk-data/r4/Group/{group_id}/$export\n"
      << "    auth:\n"
      << "      token_url: " << url << "/auth/realms/dev-portal/protocol/openid-connect/token\n"
      << "      client_id: sandbox-client\n      client_secret_file: secret\n"
      << "      scope: member-match|read\n"
      << "    trusted_hosts: [127.0.0.1]\n"
      << "    limits:\n      concurrency: 4\n      requests_per_second: 2000\n"
      << "    retry:\n      max_attempts: 12\n      base_delay: 10ms\n      max_delay: 200ms\n"
      << "    poll:\n      min_interval: 20ms\n      max_interval: 200ms\n      timeout: 2m\n";
  }
  c << "limits:\n  max_jobs_in_flight: " << kJobs << "\n  max_requests: " << kRequests
    << "\n  max_downloads: " << kDownloads << "\n";
  c.close();
  std::ifstream in(h.dir() / "roster" / "members.csv");
  std::ofstream out(h.inbox() / "members.csv.tmp");
  std::string line;
  std::getline(in, line);
  out << line << "\n";
  for (int row = 0; std::getline(in, line); ++row) {
    const size_t at = line.find(",bison,");
    if (at != std::string::npos) line.replace(at, 7, "," + PayerId(row % kPayers) + ",");
    out << line << "\n";
  }
  out.close();
  std::filesystem::rename(h.inbox() / "members.csv.tmp", h.inbox() / "members.csv");
}

TEST(GlobalLimits, ManyPayersStayWithinTheBoundsAndEveryMemberCompletes) {
  HarnessOptions o;
  o.members = 4 * kPayers;
  o.concurrency = 4;
  o.job_delay = "50ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  SpreadOverPayers(h);
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().out << h.last_run().err;
  EXPECT_EQ(DiffFromExpected(h), "");
  EXPECT_EQ(h.CountRows("SELECT COUNT(DISTINCT payer) FROM members"), kPayers);

  const std::string peak = "\"in_flight_peak\":{\"api\":";
  const int64_t api = SandboxStat(h, peak);
  const int64_t files = SandboxStat(h, peak + std::to_string(api) + ",\"file\":");
  const int64_t all = SandboxStat(h, ",\"all\":");
  EXPECT_LE(api, kJobs);
  EXPECT_LE(files, kDownloads);
  EXPECT_LE(all, kRequests);
  // ... and the bounds were reached: this was not a run that never had work in parallel.
  EXPECT_GE(api, 2);
  EXPECT_EQ(files, kDownloads);
}

}  // namespace
}  // namespace p2p::testing
