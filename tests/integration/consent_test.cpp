// The $member-match Consent with our plan's and the prior payer's identities configured
// (self.identifier, payers[].identifier): check-config says nothing more, and the whole exchange
// against p2p-sandbox still gives every member its expected outcome and exactly its resources.
// Without them check-config warns, with file:line, and still exits 0.
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

TEST(Consent, WithBothIdentitiesEveryMemberGetsExactlyItsExpectedOutcome) {
  HarnessOptions o;
  o.members = 60;
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

}  // namespace
}  // namespace p2p::testing
