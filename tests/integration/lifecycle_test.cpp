// Member lifecycle end to end: p2p-ingestd against p2p-sandbox. deleted[] files remove
// their resources from both stores; a concurrent member's refresh asks with _since and gets only
// what changed, the store ends up the union without doubles; the consent period bounds every
// request and refresh; a revocation keeps or purges (and records the purge).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/options.h"
#include "core/civil_date.h"
#include "integration/daemon_harness.h"
#include "store/resource_store.h"
#include "support/child_process.h"
#include "support/http_client.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

int64_t TodayDays() {
  return DaysFromUnix(std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
}

// Appends payer-level or top-level YAML to the harness's config.
void AppendConfig(const DaemonHarness& h, const std::string& text) {
  std::ofstream(h.config_path(), std::ios::app) << text;
}

// A number from the sandbox's /admin/stats, e.g. "\"export\":".
int64_t Stat(const DaemonHarness& h, const std::string& key) {
  HttpClient c(h.SandboxUrl());
  const std::string body = c.Get("/admin/stats").body;
  const size_t at = body.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(body.substr(at + key.size()));
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string f; std::getline(in, f, ',');) out.push_back(f);
  return out;
}

std::string JoinFields(const std::vector<std::string>& f) {
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) out += (i ? "," : "") + f[i];
  return out;
}

// Writes the roster into the inbox as `name` with the lifecycle columns appended:
// `extra(member_key)` gives "concurrent,coverage_end,consent_revoked"; rows for which `keep`
// is false are left out. `edit` may change the other fields (rows without quotes only).
void DropRosterWith(const DaemonHarness& h, const std::string& name,
                    const std::function<std::string(const std::string&)>& extra,
                    const std::function<bool(const std::string&)>& keep = nullptr,
                    const std::function<void(std::vector<std::string>&)>& edit = nullptr) {
  const auto lines = Lines(ReadFile((h.dir() / "roster" / "members.csv").string()));
  std::string out = lines.at(0) + ",concurrent,coverage_end,consent_revoked\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const std::string key = lines[i].substr(0, lines[i].find(','));
    if (keep && !keep(key)) continue;
    std::string row = lines[i];
    if (edit && row.find('"') == std::string::npos) {
      auto f = Fields(row);
      edit(f);
      row = JoinFields(f);
    }
    out += row + "," + extra(key) + "\n";
  }
  const auto tmp = h.inbox() / ("." + name + ".tmp");
  std::ofstream(tmp) << out;
  std::filesystem::rename(tmp, h.inbox() / name);
}

std::vector<std::string> Completing(const Expected& e) {
  std::vector<std::string> keys;
  for (const auto& [key, outcome] : e.outcome) {
    if (outcome == "complete") keys.push_back(key);
  }
  return keys;
}

// Distinct resources per type as the store itself counts them (CountByType).
std::map<std::string, int64_t> StoreCounts(const DaemonHarness& h, const std::string& kind) {
  StoreOptions so;
  so.kind = kind == "sqlite" ? StoreKind::kSqlite : StoreKind::kNdjson;
  so.path = h.store_path();
  auto store = store::ResourceStore::Open(so);
  EXPECT_TRUE(store.ok());
  if (!store.ok()) return {};
  auto counts = (*store)->CountByType();
  EXPECT_TRUE(counts.ok());
  return counts.ok() ? *counts : std::map<std::string, int64_t>{};
}

int64_t Total(const Expected& e, const std::string& type) {
  auto it = e.resources.find(type);
  return it == e.resources.end() ? 0 : static_cast<int64_t>(it->second.size());
}

class Lifecycle : public ::testing::TestWithParam<std::string> {
 protected:
  HarnessOptions Options(int members) {
    HarnessOptions o;
    o.members = members;
    o.job_delay = "0ms";
    o.store = GetParam();
    return o;
  }
};

TEST_P(Lifecycle, DeletedFilesRemoveTheirResourcesFromTheStore) {
  HarnessOptions o = Options(6);
  o.sandbox_args = {"--deleted-files", "2"};
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  const Expected want = h.LoadExpected();
  Expected got = h.LoadStore();
  int64_t deletions = 0;
  for (const std::string& key : Completing(want)) {
    int64_t have = 0, expected = 0;
    for (const auto& [k, id] : want.resources.at("Observation")) expected += k == key;
    for (const auto& [k, id] : got.resources["Observation"]) have += k == key;
    EXPECT_EQ(have, expected - std::min<int64_t>(2, expected)) << key;
    deletions += std::min<int64_t>(2, expected);
  }
  ASSERT_GT(deletions, 0);
  // Nothing else is missing, nothing is extra.
  for (const auto& [type, ids] : got.resources) {
    for (const auto& id : ids) EXPECT_EQ(want.resources.at(type).count(id), 1u) << id.second;
  }
  EXPECT_EQ(Total(got, "Patient"), Total(want, "Patient"));
  EXPECT_EQ(StoreCounts(h, GetParam())["Observation"], Total(want, "Observation") - deletions);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM files WHERE kind = 2 AND state = 1"),
            static_cast<int64_t>(Completing(want).size()));
}

TEST_P(Lifecycle, ARefreshAsksWithSinceAndTheStoreIsTheUnionWithoutDoubles) {
  HarnessOptions o = Options(5);
  o.sandbox_args = {"--updates-per-export", "3"};
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  AppendConfig(h, "refresh:\n  interval: 1ms\n");
  DropRosterWith(h, "members.csv", [](const std::string&) { return "true,,"; });
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  const Expected want = h.LoadExpected();
  const auto completing = Completing(want);
  ASSERT_FALSE(completing.empty());
  EXPECT_EQ(h.LoadStore().resources, want.resources);  // the first export: everything
  const int64_t exports = Stat(h, "\"export\":");

  // Second run: each complete concurrent member is due; it is exported again with _since.
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  EXPECT_EQ(Stat(h, "\"export\":"), exports + static_cast<int64_t>(completing.size()));
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM member_lifecycle WHERE refreshes = 1"),
            static_cast<int64_t>(completing.size()));
  // The refresh's manifest held only what changed: 3 new Observations and 3 re-versioned ones
  // per member, plus the member's Patient/Coverage when the sandbox updated them lately
  // (without _since it would have been every resource again).
  for (const std::string& key : completing) {
    int64_t obs = 0, all = 0;
    for (const auto& [type, ids] : want.resources) {
      for (const auto& [k, id] : ids) {
        all += k == key;
        obs += k == key && type == "Observation";
      }
    }
    const int64_t lines =
        h.CountRows("SELECT COALESCE(SUM(f.lines), 0) FROM files f JOIN members m ON "
                    "m.id = f.job_id WHERE m.member_key = '" + key + "'");
    EXPECT_GE(lines, 3 + std::min<int64_t>(3, obs)) << key;
    EXPECT_LE(lines, 3 + std::min<int64_t>(3, obs) + 2) << key;
    EXPECT_LT(lines, all + 3) << key;
  }
  // The store is the union: the roster's resources plus the new ones, each once.
  Expected union_ = want;
  for (const std::string& key : completing) {
    const std::string index = std::to_string(std::stoll(key.substr(1)));
    for (int j = 0; j < 3; ++j) {
      union_.resources["Observation"].insert({key, "lc" + index + "g1n" + std::to_string(j)});
    }
  }
  EXPECT_EQ(h.LoadStore().resources, union_.resources);
  auto counts = StoreCounts(h, GetParam());
  for (const auto& [type, ids] : union_.resources) {
    EXPECT_EQ(counts[type], static_cast<int64_t>(ids.size())) << type;
  }
  const auto states = h.MemberStates();
  for (const std::string& key : completing) EXPECT_EQ(states.at(key), "complete") << key;
}

INSTANTIATE_TEST_SUITE_P(Stores, Lifecycle, ::testing::Values("sqlite", "ndjson"),
                         [](const auto& info) { return info.param; });

HarnessOptions Small(int members) {
  HarnessOptions o;
  o.members = members;
  o.job_delay = "0ms";
  return o;
}

// Drops a roster of non-concurrent members in which the first member's consent starts in a
// month (and ends in 400 days); returns that member's key ("" if no row could be edited).
std::string DropRosterWithConsentStartingNextMonth(const DaemonHarness& h) {
  std::string later;
  DropRosterWith(
      h, "members.csv", [](const std::string&) { return "false,,"; }, nullptr,
      [&](std::vector<std::string>& f) {
        if (!later.empty()) return;
        later = f[0];
        f[10] = FormatCivilDate(TodayDays() + 30);   // consent_start
        f[11] = FormatCivilDate(TodayDays() + 400);  // consent_end
      });
  return later;
}

// Jobs of `member_key` that ever sent a request (requested_ms set).
int64_t RequestsSentFor(const DaemonHarness& h, const std::string& member_key) {
  return h.CountRows("SELECT COUNT(*) FROM members WHERE member_key = '" + member_key +
                     "' AND requested_ms IS NOT NULL");
}

TEST(LifecycleRefresh, StopsAfterCoverageOrConsentEnds) {
  DaemonHarness h(Small(6));
  ASSERT_EQ(h.Start(), "");
  AppendConfig(h, "refresh:\n  interval: 1ms\n");
  const std::string yesterday = FormatCivilDate(TodayDays() - 1);
  const auto completing = Completing(h.LoadExpected());
  ASSERT_GE(completing.size(), 2u);
  const std::string ended = completing[0];  // coverage ended yesterday
  DropRosterWith(
      h, "members.csv",
      [&](const std::string& key) { return key == ended ? "true," + yesterday + "," : "true,,"; },
      nullptr,
      [&](std::vector<std::string>& f) {
        if (f[0] == ended) f[8] = FormatCivilDate(TodayDays() - 30);  // coverage_start
      });
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  const int64_t exports = Stat(h, "\"export\":");
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  // Every other complete member was refreshed once; the ended one was not.
  EXPECT_EQ(Stat(h, "\"export\":"), exports + static_cast<int64_t>(completing.size()) - 1);
  EXPECT_EQ(h.CountRows("SELECT refreshes FROM member_lifecycle WHERE member_key = '" + ended +
                        "'"),
            0);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM member_lifecycle WHERE member_key = '" + ended +
                        "' AND refresh_due_ms IS NULL"),
            1);
}

TEST(LifecycleConsent, NoRequestIsSentBeforeConsentStarts) {
  DaemonHarness h(Small(5));
  ASSERT_EQ(h.Start(), "");
  const std::string later = DropRosterWithConsentStartingNextMonth(h);
  ASSERT_FALSE(later.empty());
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  const auto states = h.MemberStates();
  EXPECT_EQ(states.at(later), "pending");
  // One $member-match per other member, none for `later`.
  EXPECT_EQ(Stat(h, "\"match\":"), 4);
  EXPECT_EQ(RequestsSentFor(h, later), 0);
}

// The same rule with `match.mode: bulk`: a member whose consent has not started joins no batch.
TEST(LifecycleConsent, NoBulkMatchBatchTakesAMemberBeforeConsentStarts) {
  DaemonHarness h(Small(5));
  ASSERT_EQ(h.Start(), "");
  // The harness's payer is the last mapping in the file: its keys can be appended.
  AppendConfig(h, "    match:\n      mode: bulk\n      batch_size: 10\n      batch_wait: 0s\n");
  const std::string later = DropRosterWithConsentStartingNextMonth(h);
  ASSERT_FALSE(later.empty());
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  EXPECT_EQ(h.MemberStates().at(later), "pending");
  EXPECT_GE(Stat(h, "\"match\":"), 1);  // the other members were matched in bulk
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM bulk_batch_members b JOIN members m ON "
                        "m.id = b.member_job_id WHERE m.member_key = '" + later + "'"),
            0);
  EXPECT_EQ(RequestsSentFor(h, later), 0);
}

TEST(LifecycleRevocation, KeepLeavesTheResourcesAndSendsNothingMore) {
  DaemonHarness h(Small(5));
  ASSERT_EQ(h.Start(), "");
  AppendConfig(h, "refresh:\n  interval: 1ms\nconsent:\n  on_revocation: keep\n");
  DropRosterWith(h, "members.csv", [](const std::string&) { return "true,,"; });
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  const Expected want = h.LoadExpected();
  const auto completing = Completing(want);
  ASSERT_FALSE(completing.empty());
  const int64_t requests = Stat(h, "\"export\":") + Stat(h, "\"match\":");
  // Every member revokes: nothing is refreshed any more, and nothing is deleted.
  DropRosterWith(h, "revocations.csv", [](const std::string&) { return "true,,true"; });
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  EXPECT_EQ(Stat(h, "\"export\":") + Stat(h, "\"match\":"), requests);
  EXPECT_EQ(h.LoadStore().resources, want.resources);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM member_lifecycle WHERE revoked_ms IS NOT NULL AND "
                        "purged_ms IS NULL AND refresh_due_ms IS NULL"),
            5);
}

TEST(LifecycleRevocation, PurgeDeletesTheMembersResourcesAndRecordsIt) {
  for (const std::string kind : {"sqlite", "ndjson"}) {
    HarnessOptions o = Small(5);
    o.store = kind;
    DaemonHarness h(o);
    ASSERT_EQ(h.Start(), "");
    AppendConfig(h, "consent:\n  on_revocation: purge\n");
    h.DropRoster("members.csv");
    ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
    const Expected want = h.LoadExpected();
    const auto completing = Completing(want);
    ASSERT_FALSE(completing.empty());
    const std::string gone = completing[0];
    int64_t gone_count = 0;
    for (const auto& [type, ids] : want.resources) {
      for (const auto& [k, id] : ids) gone_count += k == gone;
    }
    DropRosterWith(
        h, "revocations.csv", [](const std::string&) { return "false,,true"; },
        [&](const std::string& key) { return key == gone; });
    ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
    Expected left = want;
    for (auto& [type, ids] : left.resources) {
      std::erase_if(ids, [&](const auto& p) { return p.first == gone; });
    }
    std::erase_if(left.resources, [](const auto& kv) { return kv.second.empty(); });
    Expected got = h.LoadStore();
    std::erase_if(got.resources, [](const auto& kv) { return kv.second.empty(); });
    EXPECT_EQ(got.resources, left.resources) << kind;
    EXPECT_EQ(h.CountRows("SELECT purged_count FROM member_lifecycle WHERE member_key = '" + gone +
                          "' AND purged_ms IS NOT NULL AND purge_requested = 0"),
              gone_count)
        << kind;
    EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM events e JOIN members m ON m.id = e.job_id "
                          "WHERE m.member_key = '" + gone + "' AND e.error_class = 'consent_purged'"),
              1)
        << kind;
  }
}

// `p2p-ingestd cancel` is a revocation too: with on_revocation: purge the member's purge is
// recorded and carried out by the daemon's next run; no request is sent for the member.
TEST(LifecycleRevocation, AnOperatorCancelRevokesAndPurges) {
  DaemonHarness h(Small(3));
  ASSERT_EQ(h.Start(), "");
  AppendConfig(h, "consent:\n  on_revocation: purge\n");
  const std::string later = DropRosterWithConsentStartingNextMonth(h);
  ASSERT_FALSE(later.empty());
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  ASSERT_EQ(h.MemberStates().at(later), "pending");

  const CommandResult c =
      RunCommand(IngestdExecutable(), {"cancel", later, "--config", h.config_path()});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find(later + " payer "), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("consent revoked; the daemon purges its resources"), std::string::npos)
      << c.out;
  EXPECT_EQ(h.MemberStates().at(later), "cancelled");
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM member_lifecycle WHERE member_key = '" + later +
                        "' AND purge_requested = 1"),
            1);

  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM member_lifecycle WHERE member_key = '" + later +
                        "' AND purged_ms IS NOT NULL AND purge_requested = 0"),
            1);
  EXPECT_EQ(RequestsSentFor(h, later), 0);
}

TEST(LifecycleRevocation, ARevocationBeforeAnyRequestCancelsTheJob) {
  DaemonHarness h(Small(4));
  ASSERT_EQ(h.Start(), "");
  const auto completing = Completing(h.LoadExpected());
  ASSERT_FALSE(completing.empty());
  const std::string revoked = completing[0];
  // The enrollment and its revocation arrive in one file: no request is ever sent for it.
  const auto lines = Lines(ReadFile((h.dir() / "roster" / "members.csv").string()));
  std::string out = lines[0] + ",concurrent,coverage_end,consent_revoked\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    out += lines[i] + ",false,,false\n";
    if (lines[i].rfind(revoked + ",", 0) == 0) out += lines[i] + ",false,,true\n";
  }
  std::ofstream(h.inbox() / ".m.tmp") << out;
  std::filesystem::rename(h.inbox() / ".m.tmp", h.inbox() / "members.csv");
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  EXPECT_EQ(h.MemberStates().at(revoked), "cancelled");
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE member_key = '" + revoked +
                        "' AND error_class = 'consent_revoked' AND requested_ms IS NULL"),
            1);
  EXPECT_EQ(Stat(h, "\"match\":"), 3);
}

}  // namespace
}  // namespace p2p::testing
