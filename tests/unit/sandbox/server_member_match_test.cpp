#include "member_match.h"

#include <gtest/gtest.h>

#include "hrex_consent_example.h"
#include "support/seed_body.h"

namespace p2p::sandbox {
namespace {

// The seed document's step 9 body, byte for byte.
constexpr const char* kSeedBody = p2p::testing::kSeedMemberMatchBody;

constexpr char kToday[] = "2026-06-01";

struct Body {
  std::string given = R"("Jay")";
  std::string family = "Young";
  std::string birth_date = "2001-03-11";
  std::string coverage = "17148123-47da-43a0-8401-8d5d1368db02";
  std::string status = "active";
  std::string policy = "regular";
  std::string type = "permit";
  std::string start = "2022-01-01";
  std::string end = "2035-01-31";
  int patients = 1;
  int consents = 1;
  std::string consent;  // a whole Consent resource instead of the fields above

  std::string Json() const {
    std::string patient = R"({"name":"MemberPatient","resource":{"resourceType":"Patient","name":[{"family":")" +
                          family + R"(","given":[)" + given + R"(]}],"birthDate":")" + birth_date +
                          R"("}})";
    std::string out = R"({"resourceType":"Parameters","parameter":[)";
    for (int i = 0; i < patients; ++i) out += patient + ",";
    out += R"({"name":"CoverageToMatch","resource":{"resourceType":"Coverage","identifier":[{"value":")" +
           coverage + R"("}]}},)";
    out += R"({"name":"CoverageToLink","resource":{"resourceType":"Coverage","identifier":[{"value":"NEW-1"}]}})";
    for (int i = 0; i < consents && !consent.empty(); ++i) {
      out += R"(,{"name":"Consent","resource":)" + consent + "}";
    }
    for (int i = 0; i < consents && consent.empty(); ++i) {
      out += R"(,{"name":"Consent","resource":{"resourceType":"Consent","status":")" + status +
             R"(","policy":[{"uri":"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#)" +
             policy + R"("}],"provision":{"type":")" + type + R"(","period":{"start":")" + start +
             R"(","end":")" + end + R"("}}}})";
    }
    return out + "]}";
  }
};

class MemberMatchTest : public ::testing::Test {
 protected:
  Synth synth_{SynthOptions{1, 50, 1}};
  MatchAnswer Run(std::string_view body, HrexMode mode = HrexMode::kLenient) {
    return MemberMatch(body, synth_, "bison", kToday, mode);
  }
  void ExpectOutcome(const Body& body, int status, std::string_view code,
                     std::string_view diagnostics) {
    MatchAnswer a = Run(body.Json());
    EXPECT_EQ(a.status, status);
    EXPECT_NE(a.body.find(R"("code":")" + std::string(code) + "\""), std::string::npos) << a.body;
    EXPECT_NE(a.body.find(R"("diagnostics":")" + std::string(diagnostics) + "\""),
              std::string::npos)
        << a.body;
    EXPECT_EQ(a.body.find("Young"), std::string::npos);       // no PHI in answers
    EXPECT_EQ(a.body.find("2001-03-11"), std::string::npos);
  }
};

TEST_F(MemberMatchTest, SeedBodyMatchesJayYoung) {
  MatchAnswer a = Run(kSeedBody);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.member, 0u);
  SynthMember jay = synth_.Member(0);
  EXPECT_NE(a.body.find(R"({"name":"groupId","valueString":")" + jay.group_id + "\"}"),
            std::string::npos)
      << a.body;
  EXPECT_NE(a.body.find(R"("name":"MemberIdentifier","valueIdentifier":)"), std::string::npos);
  EXPECT_NE(a.body.find(R"("value":")" + jay.patient_id + "\""), std::string::npos);
}

TEST_F(MemberMatchTest, FullHrexParametersAndFirstGivenNameMatch) {
  Body body;
  EXPECT_EQ(Run(body.Json()).status, 200);
  body.given = R"("JAY","Middle")";  // first given name, case-insensitively
  body.family = "young";
  EXPECT_EQ(Run(body.Json()).status, 200);
}

TEST_F(MemberMatchTest, MalformedOrIncompleteRequestsAre400) {
  EXPECT_EQ(Run("{\"resourceType\":").status, 400);
  EXPECT_NE(Run("{oops").body.find("Malformed JSON body"), std::string::npos);
  EXPECT_NE(Run(R"({"resourceType":"Patient"})").body.find("Body must be a Parameters resource"),
            std::string::npos);
  Body body;
  body.patients = 2;
  ExpectOutcome(body, 400, "required", "Exactly one MemberPatient parameter is required (found 2)");
  body.patients = 1;
  body.consents = 0;
  ExpectOutcome(body, 400, "required", "Exactly one Consent parameter is required (found 0)");
  body.consents = 1;
  body.coverage = "";
  ExpectOutcome(body, 400, "required", "CoverageToMatch needs an identifier value");
}

TEST_F(MemberMatchTest, NoMatchIs422Processing) {
  Body body;
  body.birth_date = "2001-03-12";
  ExpectOutcome(body, 422, "processing", "No member matches the submitted demographics and coverage");
  body = Body{};
  body.coverage = "unknown-coverage";
  ExpectOutcome(body, 422, "processing", "No member matches the submitted demographics and coverage");
  body = Body{};
  body.given = R"("Kay")";
  ExpectOutcome(body, 422, "processing", "No member matches the submitted demographics and coverage");
}

TEST_F(MemberMatchTest, UnacceptableConsentIs422BusinessRule) {
  Body body;
  body.status = "inactive";
  ExpectOutcome(body, 422, "business-rule", "Consent refused: status must be active");
  body = Body{};
  body.policy = "everything";
  ExpectOutcome(body, 422, "business-rule",
                "Consent refused: policy uri must end with #regular or #sensitive");
  body = Body{};
  body.type = "deny";
  ExpectOutcome(body, 422, "business-rule", "Consent refused: provision.type must be permit");
  body = Body{};
  body.end = "2026-05-31";
  ExpectOutcome(body, 422, "business-rule",
                "Consent refused: provision.period does not cover today");
  body = Body{};
  body.start = "2026-06-02";
  ExpectOutcome(body, 422, "business-rule",
                "Consent refused: provision.period does not cover today");
}

TEST_F(MemberMatchTest, UnsegmentableMemberNeedsSensitivePolicy) {
  for (uint64_t i = 0; i < synth_.size(); ++i) {
    SynthMember m = synth_.Member(i);
    if (!m.has_unsegmentable_sensitive_data) continue;
    Body body;
    body.given = "\"" + m.given.substr(0, m.given.find(' ')) + "\"";
    body.family = m.family;
    body.birth_date = m.birth_date;
    body.coverage = m.coverage_id;
    body.policy = "regular";
    MatchAnswer refused = Run(body.Json());
    EXPECT_EQ(refused.status, 422);
    EXPECT_NE(refused.body.find("Consent refused: this member's data cannot be segmented; a "
                                "#sensitive policy is required"),
              std::string::npos)
        << refused.body;
    body.policy = "sensitive";
    EXPECT_EQ(Run(body.Json()).status, 200);
    return;
  }
  GTEST_SKIP() << "no member with unsegmentable data among 50";
}

}  // namespace
}  // namespace p2p::sandbox

namespace p2p::sandbox {
namespace {

TEST_F(MemberMatchTest, StrictHrexAcceptsAConformingConsentAndMatches) {
  Body body;
  body.consent = p2p::testing::kHrexConsent;
  MatchAnswer a = Run(body.Json(), HrexMode::kStrict11);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.member, 0u);
  EXPECT_EQ(Run(body.Json()).status, 200);  // lenient reads it too
}

TEST_F(MemberMatchTest, StrictHrexRefusesTheSeedConsentNamingEachRule) {
  EXPECT_EQ(Run(kSeedBody).status, 200);  // lenient, the 1up behaviour
  MatchAnswer a = Run(kSeedBody, HrexMode::kStrict11);
  EXPECT_EQ(a.status, 422);
  EXPECT_FALSE(a.member);
  for (const char* element : {"scope", "category", "patient", "performer", "sourceReference",
                              "provision.actor", "provision.action"}) {
    EXPECT_NE(a.body.find(R"("expression":["Parameters.parameter[2].resource.)" +
                          std::string(element) + R"("])"),
              std::string::npos)
        << element << ": " << a.body;
  }
  EXPECT_NE(a.body.find("Consent.provision.actor: HRex 1.1 (hrex-consent) requires at least 2 "
                        "actors"),
            std::string::npos);
  EXPECT_EQ(a.body.find("Jay"), std::string::npos);  // no PHI in answers
}

TEST_F(MemberMatchTest, StrictHrexStillAppliesTheBusinessRules) {
  Body body;
  body.consent = p2p::testing::kHrexConsent;
  const size_t end = body.consent.find("2035-01-31");
  body.consent.replace(end, 10, "2026-05-31");
  MatchAnswer a = Run(body.Json(), HrexMode::kStrict11);
  EXPECT_EQ(a.status, 422);
  EXPECT_NE(a.body.find("Consent refused: provision.period does not cover today"),
            std::string::npos)
      << a.body;
  body.birth_date = "2001-03-12";
  body.consent = p2p::testing::kHrexConsent;
  EXPECT_NE(Run(body.Json(), HrexMode::kStrict11).body.find(R"("code":"processing")"),
            std::string::npos);
}

}  // namespace
}  // namespace p2p::sandbox
