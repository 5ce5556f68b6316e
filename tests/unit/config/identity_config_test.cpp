// self (name, identifier) and payers[].identifier: decoding, validation with lines, the
// warnings of a configuration without them (which still loads), and the description.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace p2p {
namespace {

class IdentityEnv : public SystemEnv {
 public:
  std::optional<std::string> GetEnv(const std::string& name) const override {
    return name == "SECRET_ONE" ? std::optional<std::string>("s3cret") : std::nullopt;
  }
};

// Line 1 is left for `self`: payers[0] is then on line 9, its inserted lines from line 10.
constexpr const char* kBody = R"(state:
  path: /var/lib/p/state.db
store:
  path: /var/lib/p/resources.db
source:
  path: /var/lib/p/inbox
payers:
  - id: bison
    base_url: https://gateway.example/v1/bison
    auth:
      token_url: https://auth.example/token
      client_id: client-1
      client_secret_env: SECRET_ONE
  - id: elk
    base_url: https://elk.example/fhir
    auth:
      token_url: https://elk.example/token
      client_id: client-2
      client_secret_env: SECRET_ONE
)";

// `self_yaml` goes first (one line, may be "# none"); `bison` / `elk` are inserted under each
// payer's id (indented lines, may be "").
Result<Options> Parse(const std::string& self_yaml, const std::string& bison = "",
                      const std::string& elk = "") {
  std::string text = self_yaml + "\n" + kBody;
  if (!elk.empty()) text.insert(text.find("  - id: elk\n") + 12, elk);
  if (!bison.empty()) text.insert(text.find("  - id: bison\n") + 14, bison);
  return ParseOptions(text, "cfg.yaml", IdentityEnv());
}

constexpr const char* kSelf =
    "self: {name: New Plan, identifier: {system: 'urn:oid:2.16.840.1.113883.6.300', "
    "value: '12345'}}";
constexpr const char* kBisonId =
    "    identifier:\n      system: http://hl7.org/fhir/sid/us-npi\n      value: '9876543210'\n";
constexpr const char* kElkId =
    "    identifier: {system: https://elk.example/payer-id, value: E1}\n";

TEST(IdentityOptions, ReadsSelfAndEachPayersIdentifierWithoutWarnings) {
  auto o = Parse(kSelf, kBisonId, kElkId);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->self.name, "New Plan");
  EXPECT_EQ(o->self.identifier.system, "urn:oid:2.16.840.1.113883.6.300");
  EXPECT_EQ(o->self.identifier.value, "12345");
  EXPECT_EQ(o->payers[0].identifier.system, "http://hl7.org/fhir/sid/us-npi");
  EXPECT_EQ(o->payers[0].identifier.value, "9876543210");
  EXPECT_EQ(o->payers[1].identifier.value, "E1");
  EXPECT_TRUE(o->warnings.empty());
  const std::string text = DescribeOptions(*o);
  EXPECT_NE(text.find("self: New Plan, identifier urn:oid:2.16.840.1.113883.6.300|12345\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  bison (bison): https://gateway.example/v1/bison\n"
                      "    identifier: http://hl7.org/fhir/sid/us-npi|9876543210\n"),
            std::string::npos)
      << text;
}

TEST(IdentityOptions, MissingIdentitiesAreWarningsWithTheirLinesNotErrors) {
  constexpr const char* kWhy =
      ": missing; the $member-match Consent will have no actors, which payers validating "
      "against HRex 1.1 / PDex 2.1 refuse (422)";
  auto o = Parse("# no self", "", kElkId);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->warnings,
            (std::vector<std::string>{"cfg.yaml:1: self.identifier" + std::string(kWhy),
                                      "cfg.yaml:9: payers[0].identifier" + std::string(kWhy)}));
  // self without an identifier: warned at self's line.
  o = Parse("self: {name: New Plan}", kBisonId, kElkId);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->warnings,
            (std::vector<std::string>{"cfg.yaml:1: self.identifier" + std::string(kWhy)}));
  EXPECT_NE(DescribeOptions(*o).find("self: New Plan, identifier none\n"), std::string::npos);
}

TEST(IdentityOptions, ReportsEachBadIdentifierWithItsLine) {
  const struct {
    std::string self, bison, error;
  } cases[] = {
      {"self: {identifier: {value: '1'}}", "", "cfg.yaml:1: self.identifier.system: is required"},
      {"self: {identifier: {system: 'urn:x:y'}}", "",
       "cfg.yaml:1: self.identifier.value: is required"},
      {"self: {identifier: {system: npi, value: '1'}}", "",
       "cfg.yaml:1: self.identifier.system: must be an absolute URI (such as "
       "http://hl7.org/fhir/sid/us-npi) or a urn:"},
      {"self: {identifier: {system: 'http://', value: '1'}}", "",
       "cfg.yaml:1: self.identifier.system: must be an absolute URI (such as "
       "http://hl7.org/fhir/sid/us-npi) or a urn:"},
      {"self: {identifier: {system: 'urn:', value: '1'}}", "",
       "cfg.yaml:1: self.identifier.system: must be an absolute URI (such as "
       "http://hl7.org/fhir/sid/us-npi) or a urn:"},
      {"self: {identifier: {system: 'http://a b', value: '1'}}", "",
       "cfg.yaml:1: self.identifier.system: must be an absolute URI (such as "
       "http://hl7.org/fhir/sid/us-npi) or a urn:"},
      {"self: {identifier: {system: 'urn:a', value: \"a\\tb\"}}", "",
       "cfg.yaml:1: self.identifier.value: must be at most 256 bytes without control "
       "characters"},
      {"self: {identifier: {system: 'urn:a', value: '1', type: MB}}", "",
       "cfg.yaml:1: self.identifier.type: unknown key"},
      {"self: {nam: x}", "", "cfg.yaml:1: self.nam: unknown key"},
      {kSelf, "    identifier:\n      system: http://hl7.org/fhir/sid/us-npi\n",
       "cfg.yaml:10: payers[0].identifier.value: is required"},
      {kSelf, "    identifier: 9876543210\n",
       "cfg.yaml:10: payers[0].identifier: expected a mapping"},
  };
  for (const auto& c : cases) {
    auto o = Parse(c.self, c.bison, kElkId);
    ASSERT_FALSE(o) << c.self << c.bison;
    EXPECT_EQ(o.error().message, c.error) << c.self << c.bison;
  }
}

TEST(IdentityOptions, AcceptsUrnsAndOtherSchemesInAnyCase) {
  for (const char* system : {"URN:oid:1.2.3", "https://x.example/ids", "ftp+x://h/p"}) {
    auto o = Parse(std::string("self: {identifier: {system: '") + system + "', value: v}}",
                   kBisonId, kElkId);
    EXPECT_TRUE(o) << system << ": " << o.error().message;
  }
}

}  // namespace
}  // namespace p2p
