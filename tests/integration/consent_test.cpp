// The $member-match Consent with our plan's and the prior payer's identities configured
// (self.identifier, payers[].identifier): check-config says nothing more, and the whole exchange
// against p2p-sandbox, lenient (1up) or strict (--hrex 1.1, a payer validating the Consent against
// HRex STU 1.1's hrex-consent profile), gives every member its expected outcome and exactly its
// resources. Without them check-config warns, with file:line, and still exits 0; a strict payer
// refuses with 422 and `members show` tells the operator what to configure.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "integration/daemon_harness.h"
#include "support/child_process.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

// Names both payers in the harness's config: `self` on a first line, the payer's identifier
// under its id.
void AddIdentities(const DaemonHarness& h) {
  std::string text = ReadFile(h.config_path());
  const std::string id_line = "  - id: bison\n";
  const size_t at = text.find(id_line);
  ASSERT_NE(at, std::string::npos);
  text.insert(at + id_line.size(),
              "    identifier: {system: 'http://hl7.org/fhir/sid/us-npi', value: '9876543210'}\n");
  text =
      "self: {name: New Plan, identifier: {system: 'urn:oid:2.16.840.1.113883.6.300', "
      "value: '12345'}}\n" +
      text;
  std::ofstream(h.config_path(), std::ios::trunc) << text;
}

TEST(Consent, CheckConfigWarnsAboutMissingIdentitiesAndStillSucceeds) {
  HarnessOptions o;
  o.members = 4;
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  CommandResult r = RunCommand(IngestdExecutable(), {"check-config", "--config", h.config_path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string why =
      ": missing; the $member-match Consent will have no actors, which payers validating "
      "against HRex 1.1 / PDex 2.1 refuse (422)\n";
  EXPECT_NE(r.err.find(h.config_path() + ":1: self.identifier" + why), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("payers[0].identifier" + why), std::string::npos) << r.err;

  AddIdentities(h);
  r = RunCommand(IngestdExecutable(), {"check-config", "--config", h.config_path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("self: New Plan, identifier urn:oid:2.16.840.1.113883.6.300|12345\n"),
            std::string::npos)
      << r.out;
}

class ConsentAgainst : public ::testing::TestWithParam<const char*> {};

TEST_P(ConsentAgainst, WithBothIdentitiesEveryMemberGetsExactlyItsExpectedOutcome) {
  HarnessOptions o;
  o.members = 60;
  o.sandbox_args = {"--hrex", GetParam()};
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  AddIdentities(h);
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
  const Expected want = h.LoadExpected();
  const auto states = h.MemberStates();
  ASSERT_EQ(states.size(), want.outcome.size());
  for (const auto& [key, outcome] : want.outcome) EXPECT_EQ(states.at(key), outcome) << key;
  EXPECT_EQ(h.LoadStore().resources, want.resources);
}

INSTANTIATE_TEST_SUITE_P(Payers, ConsentAgainst, ::testing::Values("lenient", "1.1"),
                         [](const auto& info) {
                           return std::string(info.param) == "1.1" ? "StrictHrex11"
                                                                   : "Lenient";
                         });

TEST(Consent, AStrictPayerRefusesAConsentWithoutActorsAndMembersShowSaysWhy) {
  HarnessOptions o;
  o.members = 6;
  o.sandbox_args = {"--hrex", "1.1"};
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
  // Nobody is no_match or consent_refused for our missing configuration: the request failed.
  const auto states = h.MemberStates();
  std::string key;
  for (const auto& [k, state] : states) {
    EXPECT_EQ(state.rfind("failed (request_invalid: $member-match: the payer refused our request "
                          "as invalid (HTTP 422",
                          0),
              0u)
        << k << ": " << state;
    key = k;
  }
  ASSERT_FALSE(key.empty());
  CommandResult show =
      RunCommand(IngestdExecutable(), {"members", "show", key, "--config", h.config_path()});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("request_invalid"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("Consent.provision.actor"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("set self.identifier and payers[].identifier"), std::string::npos)
      << show.out;
}

}  // namespace
}  // namespace p2p::testing
