// A throttling payer never costs a member the export, end to end: p2p-ingestd against
// p2p-sandbox's `block` fault (after N requests a client gets 429 for a while, with Retry-After as
// seconds, an HTTP-date or an epoch instant). The block starts mid-poll with the payer's jobs in
// flight; every member completes, no attempt is counted, the payer is probed at most once per
// Retry-After, /status shows it throttled, and another payer's jobs finish meanwhile. A block
// longer than retry.give_up_after fails the jobs with class `throttled`.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "integration/daemon_harness.h"
#include "support/http_client.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kComplete = 6;
constexpr int kFailed = 10;

// A number after `key` in the sandbox's /admin/stats, e.g. "\"refused\":"; -1 when absent.
int64_t Stat(const DaemonHarness& h, const std::string& key) {
  HttpClient c(h.SandboxUrl());
  const std::string body = c.Get("/admin/stats").body;
  const size_t at = body.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(body.substr(at + key.size()));
}

void Append(const DaemonHarness& h, const std::string& yaml) {
  std::ofstream(h.config_path(), std::ios::app) << yaml;
}

void Replace(const DaemonHarness& h, const std::string& from, const std::string& to) {
  std::string text = ReadFile(h.config_path());
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  std::ofstream(h.config_path(), std::ios::trunc) << text;
}

// A second payer, "otter": another tenant of the same sandbox, with a client of its own (a block
// is per client), and the first `members` rows of the roster as its members.
void AddOtter(const DaemonHarness& h, int members) {
  {
    std::ofstream s(h.dir() / "otter-secret");
    s << "otter-secret\n";
  }
  ::chmod((h.dir() / "otter-secret").c_str(), 0600);
  const std::string url = h.SandboxUrl();
  Append(h, "  - id: otter\n"
            "    base_url: " + url + "/v1/otter\n"
            "    member_match_path: /member-match-sandbox/$member-match\n"
            "    export_path: /bulk-data/r4/Group/{group_id}/$export\n"
            "    auth:\n"
            "      method: client_secret_post\n"
            "      token_url: " + url + "/auth/realms/dev-portal/protocol/openid-connect/token\n"
            "      client_id: otter-client\n"
            "      client_secret_file: otter-secret\n"
            "    trusted_hosts: [127.0.0.1]\n"
            "    limits:\n      concurrency: 4\n      requests_per_second: 2000\n"
            "    retry:\n      max_attempts: 2\n      base_delay: 10ms\n      max_delay: 200ms\n"
            // Few status requests: the sandbox's block counts per client, and otter's must stay
            // under the limit that blocks bison.
            "    poll:\n      min_interval: 1s\n      max_interval: 1s\n      timeout: 2m\n");
  std::ifstream in(h.dir() / "roster" / "members.csv");
  std::ofstream out(h.dir() / "otter.csv.tmp");
  std::string line;
  for (int i = 0; i <= members && std::getline(in, line); ++i) {
    const size_t at = line.find(",bison,");
    if (at != std::string::npos) line.replace(at, 7, ",otter,");
    out << line << "\n";
  }
  out.close();
  std::filesystem::rename(h.dir() / "otter.csv.tmp", h.inbox() / "otter.csv");
}

// One payer's live condition in /status: {"auth", "throttled_until_ms"}; empty when not listed.
std::pair<std::string, int64_t> Condition(const std::string& status, const std::string& payer) {
  std::smatch m;
  const std::regex re("\"payer\":\"" + payer +
                      "\",\"auth\":\"(\\w+)\"(?:,\"auth_error\":\"[^\"]*\")?,"
                      "\"throttled_until_ms\":([0-9]+)");
  if (!std::regex_search(status, m, re)) return {"", 0};
  return {m[1], std::stoll(m[2])};
}

class BlockTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BlockTest, EveryMemberCompletesAndNoAttemptIsCounted) {
  const std::string form = GetParam();
  constexpr int kBison = 6;
  constexpr int kOtter = 3;
  HarnessOptions o;
  o.members = kBison;
  o.concurrency = kBison;
  o.max_attempts = 2;  // were the 429s counted, the block would fail every job
  o.job_delay = "1500ms";
  o.status_listen = "127.0.0.1:0";
  // The status requests count: bison's 13th, mid-poll, starts a 4 s block (otter sends fewer).
  o.faults = "job:block=12/60s:4s:retry-after=" + form;
  o.sandbox_args = {"--client", "sandbox-client:sandbox-secret", "--client",
                    "otter-client:otter-secret", "--tenant", "otter"};
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  AddOtter(h, kOtter);
  h.DropRoster("members.csv");
  std::string err;
  auto daemon = h.StartDaemon(&err);
  ASSERT_NE(daemon, nullptr) << err;
  const std::string base = h.StatusBase();
  ASSERT_FALSE(base.empty());

  // Members the roster says complete: all of bison's, and of otter's (its first kOtter rows).
  const Expected expected = h.LoadExpected();
  int want_bison = 0;
  int want_otter = 0;
  for (const auto& [key, outcome] : expected.outcome) {
    if (outcome != "complete") continue;
    ++want_bison;
    if (key <= "M00000000" + std::to_string(kOtter - 1)) ++want_otter;
  }
  ASSERT_GE(want_otter, 2);
  auto complete = [&](const std::string& payer) {
    return h.CountRows("SELECT COUNT(*) FROM members WHERE payer='" + payer +
                       "' AND state=" + std::to_string(kComplete));
  };
  bool seen_throttled = false;
  const bool done = WaitUntil(
      [&] {
        HttpClient c(base);
        if (Condition(c.Get("/status").body, "bison").second > 0) seen_throttled = true;
        return complete("bison") == want_bison && complete("otter") == want_otter;
      },
      60s);
  const std::string states = [&] {
    std::string s;
    for (const auto& [k, v] : h.MemberStates()) s += k + ": " + v + "\n";
    return s;
  }();
  const std::string daemon_log = ReadFile((h.dir() / "log" / "p2p-ingestd.log").string());
  ASSERT_TRUE(done) << states << daemon_log.substr(daemon_log.size() > 6000 ? daemon_log.size() - 6000 : 0);
  EXPECT_TRUE(seen_throttled);
  EXPECT_GE(Stat(h, "\"started\":"), 1);
  // Refused: the requests already under way when the block began (at most one per job in
  // flight), and at most one probe per Retry-After, which here runs to the block's end.
  const int64_t refused = Stat(h, "\"refused\":");
  EXPECT_GE(refused, 1);
  EXPECT_LE(refused, kBison + 2);
  EXPECT_EQ(h.CountRows("SELECT COALESCE(MAX(attempts),0) FROM members WHERE payer='bison'"), 0);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE throttled_since_ms IS NOT NULL"), 0);
  // The other payer's jobs went on during the block: they were all complete before the
  // throttled payer's first.
  EXPECT_LT(h.CountRows("SELECT MAX(completed_ms) FROM members WHERE payer='otter'"),
            h.CountRows("SELECT MIN(completed_ms) FROM members WHERE payer='bison'"));
  const std::string log = ReadFile((h.dir() / "log" / "p2p-ingestd.log").string());
  EXPECT_NE(log.find("payer bison: throttled (HTTP 429"), std::string::npos);
  EXPECT_NE(log.find("payer bison: no longer throttled"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(RetryAfter, BlockTest,
                         ::testing::Values("seconds", "date", "epoch", "epoch-ms"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

TEST(Throttling, ABlockLongerThanGiveUpAfterFailsTheJobsAsThrottled) {
  HarnessOptions o;
  o.members = 2;
  o.concurrency = 2;
  o.job_delay = "0ms";
  // After the token request, every $member-match meets a 30 s block.
  o.faults = "any:block=1/60s:30s:retry-after=seconds";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  Replace(h, "      max_delay: 200ms\n", "      max_delay: 200ms\n      give_up_after: 2s\n");
  Replace(h, "      requests_per_second: 2000\n",
          "      requests_per_second: 2000\n      max_throttle_wait: 1s\n");
  h.DropRoster("members.csv");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(h.RunOnce(30s), 0) << h.last_run().err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);  // not the block's 30 s
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE state=" + std::to_string(kFailed) +
                        " AND error_class='throttled'"),
            2);
  // The two matches that met the block, then one probe per max_throttle_wait (1 s) at most.
  EXPECT_LE(Stat(h, "\"refused\":"), 2 + 4);
}

// Wrong credentials of each kind: `auth: rejected` in /status and /readyz after one token
// request, and run --once stops with exit 70 naming the payer and the OAuth error.
struct BadAuth {
  const char* name;
  const char* from;
  const char* to;
  const char* oauth_error;
};

void PrintTo(const BadAuth& b, std::ostream* os) { *os << b.name; }

class CredentialsTest : public ::testing::TestWithParam<BadAuth> {};

TEST_P(CredentialsTest, AreShownAsRejectedAndStopRunOnceWithExit70) {
  const BadAuth& bad = GetParam();
  HarnessOptions o;
  o.members = 3;
  o.concurrency = 3;
  o.job_delay = "0ms";
  o.status_listen = "127.0.0.1:0";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  if (std::string(bad.from) == "secret") {
    std::ofstream(h.dir() / "secret", std::ios::trunc) << bad.to << "\n";
  } else {
    Replace(h, bad.from, bad.to);
  }
  h.DropRoster("members.csv");

  std::string err;
  auto daemon = h.StartDaemon(&err);
  ASSERT_NE(daemon, nullptr) << err;
  const std::string base = h.StatusBase();
  ASSERT_FALSE(base.empty());
  HttpClient c(base);
  ASSERT_TRUE(WaitUntil([&] { return Condition(c.Get("/status").body, "bison").first == "rejected"; },
                        20s))
      << c.Get("/status").body;
  EXPECT_EQ(Stat(h, "\"token\":"), 1);  // one token attempt, then the payer waits
  auto ready = c.Get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, std::string("not ready: payer bison: credentials rejected (") +
                            bad.oauth_error + ")\n");
  EXPECT_NE(c.Get("/metrics").body.find("p2p_payer_auth_rejected{payer=\"bison\"} 1"),
            std::string::npos);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE state>6"), 0);  // none failed
  daemon.reset();  // SIGTERM

  ASSERT_EQ(h.RunOnce(30s), 70) << h.last_run().err;
  EXPECT_NE(h.last_run().err.find(std::string("payer bison: the token endpoint rejects our "
                                              "credentials (") + bad.oauth_error + ")"),
            std::string::npos)
      << h.last_run().err;
  EXPECT_EQ(h.last_run().err.find("sandbox-secret"), std::string::npos);
  EXPECT_EQ(h.last_run().err.find("wrong-secret"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, CredentialsTest,
    ::testing::Values(BadAuth{"Secret", "secret", "wrong-secret", "invalid_client"},
                      BadAuth{"ClientId", "client_id: sandbox-client", "client_id: nobody",
                              "invalid_client"},
                      BadAuth{"Scope", "scope: member-match|read", "scope: everything",
                              "invalid_scope"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Credentials, AFixedSecretAndASighupCompleteTheWaitingMembers) {
  HarnessOptions o;
  o.members = 4;
  o.concurrency = 4;
  o.job_delay = "0ms";
  o.status_listen = "127.0.0.1:0";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  Replace(h, "      max_delay: 200ms\n", "      max_delay: 30s\n");  // no quick retry by chance
  std::ofstream(h.dir() / "secret", std::ios::trunc) << "wrong-secret\n";
  h.DropRoster("members.csv");
  std::string err;
  auto daemon = h.StartDaemon(&err);
  ASSERT_NE(daemon, nullptr) << err;
  const std::string base = h.StatusBase();
  ASSERT_FALSE(base.empty());
  HttpClient c(base);
  ASSERT_TRUE(WaitUntil([&] { return Condition(c.Get("/status").body, "bison").first == "rejected"; },
                        20s));
  std::ofstream(h.dir() / "secret", std::ios::trunc) << "sandbox-secret\n";
  ::kill(daemon->pid(), SIGHUP);
  const bool done = WaitUntil(
      [&] {
        return h.CountRows("SELECT COUNT(*) FROM members WHERE state=" +
                           std::to_string(kComplete)) == o.members;
      },
      20s);
  EXPECT_TRUE(done);
  EXPECT_EQ(Condition(c.Get("/status").body, "bison").first, "ok");
  EXPECT_EQ(c.Get("/readyz").status, 200);
  const std::string log = ReadFile((h.dir() / "log" / "p2p-ingestd.log").string());
  EXPECT_NE(log.find("payer bison: the token endpoint rejects our credentials (invalid_client)"),
            std::string::npos);
  EXPECT_EQ(log.find("wrong-secret"), std::string::npos);
}

}  // namespace
}  // namespace p2p::testing
