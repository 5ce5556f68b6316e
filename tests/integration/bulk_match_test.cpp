// Bulk match end to end: with `match.mode: bulk` the daemon matches the roster's
// members with Da Vinci PDex $bulk-member-match in batches, against p2p-sandbox; each member
// reaches the outcome expected.json names (matched ones complete, the others no_match /
// consent_refused), each batch's matched Group is exported exactly once, no single $member-match
// is sent, and every resource lands under the right member_key (attributed by its Patient
// reference), in both stores.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>

#include "integration/daemon_harness.h"
#include "support/http_client.h"

namespace p2p::testing {
namespace {

constexpr int kMembers = 12;
constexpr int kBatch = 5;
constexpr int kSeed = 11;  // 12 members: 7 complete, 4 no_match, 1 consent_refused

// The sandbox's request counters (/admin/stats) by endpoint name.
std::map<std::string, int64_t> SandboxRequests(const std::string& url) {
  HttpClient client(url);
  HttpResponse r = client.Get("/admin/stats");
  std::map<std::string, int64_t> out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (!r.ok() || parser.parse(r.body).get(doc)) return out;
  simdjson::dom::object requests;
  if (doc["requests"].get_object().get(requests)) return out;
  for (auto [name, value] : requests) {
    int64_t n = 0;
    if (!value.get_int64().get(n)) out[std::string(name)] = n;
  }
  return out;
}

void UseBulkMatch(const DaemonHarness& h, int batch_size) {
  // The harness's payer is the last mapping in the file: its keys can be appended.
  std::ofstream c(h.config_path(), std::ios::app);
  c << "    match:\n      mode: bulk\n      batch_size: " << batch_size
    << "\n      batch_wait: 100ms\n";
}

class BulkMatch : public ::testing::TestWithParam<std::string> {};

TEST_P(BulkMatch, BatchesReachEveryMembersOutcomeAndStoreResourcesPerMember) {
  HarnessOptions o;
  o.members = kMembers;
  o.seed = kSeed;
  o.store = GetParam();
  o.concurrency = 4;
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  UseBulkMatch(h, kBatch);
  const Expected want = h.LoadExpected();
  std::map<std::string, int> outcomes;
  for (const auto& [key, outcome] : want.outcome) ++outcomes[outcome];
  // The roster has every kind of member, or this test would prove less than it claims.
  ASSERT_GT(outcomes["complete"], 0);
  ASSERT_GT(outcomes["no_match"], 0);
  ASSERT_GT(outcomes["consent_refused"], 0);

  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(std::chrono::seconds(60)), 0) << h.last_run().err;

  std::map<std::string, std::string> members, batches;
  for (const auto& [key, state] : h.MemberStates()) {
    (key.rfind("bulk-match:", 0) == 0 ? batches : members)[key] = state;
  }
  EXPECT_EQ(members, want.outcome) << h.last_run().out << h.last_run().err;
  const int expected_batches = (kMembers + kBatch - 1) / kBatch;
  ASSERT_EQ(batches.size(), static_cast<size_t>(expected_batches));
  for (const auto& [key, state] : batches) EXPECT_EQ(state, "complete") << key;

  // One $bulk-member-match per batch (no single $member-match), one export per batch with a
  // matched member.
  const int64_t batches_with_exports =
      h.CountRows("SELECT COUNT(DISTINCT batch_job_id) FROM bulk_batch_members WHERE outcome=1");
  auto requests = SandboxRequests(h.SandboxUrl());
  EXPECT_EQ(requests["match"], expected_batches);
  EXPECT_EQ(requests["export"], batches_with_exports);
  EXPECT_GE(batches_with_exports, 1);

  const Expected got = h.LoadStore();
  EXPECT_EQ(got.resources, want.resources);
  EXPECT_TRUE(got.outcome.empty()) << "duplicate lines in the store";
}

INSTANTIATE_TEST_SUITE_P(Stores, BulkMatch, ::testing::Values("sqlite", "ndjson"));

}  // namespace
}  // namespace p2p::testing
