// core/consent.h: the Consent of a $member-match, in both forms, compared byte for byte.
#include "core/consent.h"

#include <gtest/gtest.h>

#include <string>

#include "core/bulk_member_match.h"
#include "core/member.h"

namespace p2p {
namespace {

MemberRow Row() {
  MemberRow row;
  row.member_key = "m-0001";
  row.prior_payer = "bison";
  row.given = "Patricia";
  row.family = "Person";
  row.birth_date = "1974-12-25";
  row.prior_coverage_id = "DH10001235";
  row.coverage_start = "2027-01-01";
  row.opt_in_date = "2027-01-03";
  row.consent_start = "2027-01-03";
  row.consent_end = "2028-01-03";
  row.consent_policy = "sensitive";
  return row;
}

const ConsentParty kBison{"Bison Health", "http://hl7.org/fhir/sid/us-npi", "9876543210"};
const ConsentParty kUs{"New Plan \"NP\"", "urn:oid:2.16.840.1.113883.6.300", "12345"};

// The Consent sent before identities could be configured (1up accepts it).
constexpr const char* kWithoutActors =
    R"({"resourceType":"Consent","id":"consent","status":"active",)"
    R"("scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope",)"
    R"("code":"patient-privacy"}]},)"
    R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode",)"
    R"("code":"IDSCL"}]}],"patient":{"reference":"Patient/member"},)"
    R"("policy":[{"uri":"http://hl7.org/fhir/us/davinci-hrex/)"
    R"(StructureDefinition-hrex-consent.html#sensitive"}],)"
    R"("provision":{"type":"permit","period":{"start":"2027-01-03","end":"2028-01-03"}}})";

// The HRex STU 1.1 Consent.
constexpr const char* kWithActors =
    R"({"resourceType":"Consent","id":"consent","status":"active",)"
    R"("scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope",)"
    R"("code":"patient-privacy"}]},)"
    R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode",)"
    R"("code":"IDSCL"}]},{"coding":[{"system":"http://loinc.org","code":"64292-6"}]}],)"
    R"("patient":{"reference":"Patient/member"},"dateTime":"2027-01-03",)"
    R"("performer":[{"reference":"Patient/member"}],)"
    R"("sourceReference":{"identifier":{"system":"urn:p2p-ingest:consent","value":"m-0001"}},)"
    R"("policy":[{"uri":"http://hl7.org/fhir/us/davinci-hrex/)"
    R"(StructureDefinition-hrex-consent.html#sensitive"}],)"
    R"("provision":{"type":"permit","period":{"start":"2027-01-03","end":"2028-01-03"},)"
    R"("actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/)"
    R"(provenance-participant-type","code":"performer"}]},)"
    R"("reference":{"identifier":{"system":"http://hl7.org/fhir/sid/us-npi","value":"9876543210"},)"
    R"("display":"Bison Health"}},)"
    R"({"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/)"
    R"(v3-ParticipationType","code":"IRCP"}]},)"
    R"("reference":{"identifier":{"system":"urn:oid:2.16.840.1.113883.6.300","value":"12345"},)"
    R"("display":"New Plan \"NP\""}}],)"
    R"("action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction",)"
    R"("code":"disclose"}]}]}})";

TEST(AppendConsent, FormFollowsWhichIdentitiesAreKnown) {
  ConsentParty no_value = kBison;
  no_value.value.clear();
  ConsentParty no_system = kUs;
  no_system.system.clear();
  ConsentParty unnamed = kUs;
  unnamed.name.clear();
  std::string unnamed_actors = kWithActors;
  const std::string named = R"(,"display":"New Plan \"NP\"")";
  unnamed_actors.erase(unnamed_actors.find(named), named.size());
  const struct {
    const char* what;
    ConsentParties parties;
    std::string want;
  } cases[] = {
      {"neither", {}, kWithoutActors},
      {"prior payer only", {kBison, {}}, kWithoutActors},
      {"us only", {{}, kUs}, kWithoutActors},
      {"prior payer without value", {no_value, kUs}, kWithoutActors},
      {"us without system", {kBison, no_system}, kWithoutActors},
      {"both", {kBison, kUs}, kWithActors},
      {"both, ours without a name", {kBison, unnamed}, unnamed_actors},
  };
  for (const auto& c : cases) {
    std::string out;
    AppendConsent(out, Row(), c.parties);
    EXPECT_EQ(out, c.want) << c.what;
  }
}

TEST(AppendConsent, RegularPolicyAndEscapedIdentifiers) {
  MemberRow row = Row();
  row.consent_policy = "regular";
  ConsentParty odd = kBison;
  odd.value = "a\"b\\c";
  std::string out;
  AppendConsent(out, row, {odd, kUs});
  EXPECT_NE(out.find("hrex-consent.html#regular\"}]"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("value":"a\"b\\c")"), std::string::npos) << out;
}

TEST(BuildMemberMatchBody, CarriesTheConsentOfTheParties) {
  const std::string body = BuildMemberMatchBody(Row(), {kBison, kUs});
  const std::string tail = std::string(R"({"name":"Consent","resource":)") + kWithActors + "}]}";
  ASSERT_GE(body.size(), tail.size());
  EXPECT_EQ(body.substr(body.size() - tail.size()), tail);
  EXPECT_EQ(BuildMemberMatchBody(Row()), BuildMemberMatchBody(Row(), {kBison, {}}));
}

TEST(BuildBulkMemberMatchBody, EveryMembersConsentNamesThePayersAndItsOwnPatient) {
  MemberRow second = Row();
  second.member_key = "m-0002";
  const std::string body = BuildBulkMemberMatchBody({{"m1", Row()}, {"m2", second}}, {kBison, kUs});
  size_t actors = 0;
  for (size_t p = 0; (p = body.find(R"("code":"IRCP")", p)) != std::string::npos; ++p) ++actors;
  EXPECT_EQ(actors, 2u);
  EXPECT_NE(body.find(R"("performer":[{"reference":"Patient/m1"}])"), std::string::npos);
  EXPECT_NE(body.find(R"("performer":[{"reference":"Patient/m2"}])"), std::string::npos);
  EXPECT_NE(body.find(R"("value":"m-0002"}})"), std::string::npos);
  EXPECT_EQ(body.find("Patient/member"), std::string::npos);
}

}  // namespace
}  // namespace p2p
