// sandbox/hrex_consent.h: the HRex STU 1.1 hrex-consent checks of p2p-sandbox --hrex 1.1.
#include "hrex_consent.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>

#include "hrex_consent_example.h"

namespace p2p::sandbox {
namespace {

constexpr char kPath[] = "Parameters.parameter[3].resource";

// kHrexConsent with `from` replaced by `to` (from must occur exactly once).
std::string Edit(std::initializer_list<std::pair<std::string_view, std::string_view>> edits) {
  std::string json = p2p::testing::kHrexConsent;
  for (const auto& [from, to] : edits) {
    const size_t at = json.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    EXPECT_EQ(json.find(from, at + 1), std::string::npos) << from;
    if (at != std::string::npos) json.replace(at, from.size(), to);
  }
  return json;
}

constexpr std::string_view kSourceActor =
    R"({"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "performer"}]},
       "reference": {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "9876543210"},
                     "display": "Old Health Plan"}},)";
constexpr std::string_view kRecipientRole =
    R"("system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": "IRCP")";
constexpr std::string_view kAction =
    R"("action": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction",
                            "code": "disclose"}]}])";
constexpr std::string_view kActorRule =
    "Consent.provision.actor: HRex 1.1 (hrex-consent) requires at least 2 actors: the source "
    "payer (role http://terminology.hl7.org/CodeSystem/provenance-participant-type#performer) and "
    "the recipient payer (role http://terminology.hl7.org/CodeSystem/v3-ParticipationType#IRCP), "
    "each identified by an identifier reference (system and value); ";

struct Case {
  const char* name;
  std::string consent;
  std::vector<std::string> expressions;  // after kPath, in order
  std::string code;                      // of the first issue
  std::string diagnostics;               // of the first issue
};

std::vector<Case> Cases() {
  const std::string policy_rule =
      "Consent.policy: HRex 1.1 (hrex-consent) requires a policy with uri "
      "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular or "
      "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#sensitive";
  const std::string reference_form = "(a reference string, or an identifier with system and value)";
  return {
      {"status absent", Edit({{R"("status": "active",)", ""}}), {".status"}, "required",
       R"(Consent.status: HRex 1.1 (hrex-consent) requires status "active")"},
      {"status draft", Edit({{R"("status": "active")", R"("status": "draft")"}}), {".status"},
       "value", R"(Consent.status: HRex 1.1 (hrex-consent) requires status "active")"},
      {"scope absent", Edit({{R"("scope")", R"("scopeX")"}}), {".scope"}, "required",
       "Consent.scope: HRex 1.1 (hrex-consent) requires the scope "
       "http://terminology.hl7.org/CodeSystem/consentscope#patient-privacy"},
      {"scope research", Edit({{"patient-privacy", "research"}}), {".scope"}, "value", ""},
      {"category absent", Edit({{R"("category")", R"("categoryX")"}}), {".category"}, "required",
       "Consent.category: HRex 1.1 (hrex-consent) requires a category "
       "http://terminology.hl7.org/CodeSystem/v3-ActCode#IDSCL (information disclosure)"},
      {"category LOINC 64292-6",
       Edit({{"http://terminology.hl7.org/CodeSystem/v3-ActCode", "http://loinc.org"},
             {R"("IDSCL")", R"("64292-6")"}}),
       {".category"}, "value", ""},
      {"patient absent", Edit({{R"("patient": {"reference": "Patient/1"},)", ""}}), {".patient"},
       "required",
       "Consent.patient: HRex 1.1 (hrex-consent) requires a reference to the member's Patient " +
           reference_form},
      {"performer absent", Edit({{R"("performer": [{"reference": "Patient/1"}],)", ""}}),
       {".performer"}, "required",
       "Consent.performer: HRex 1.1 (hrex-consent) requires exactly one performer, the party that "
       "gave the consent " + reference_form},
      {"two performers",
       Edit({{R"("performer": [{"reference": "Patient/1"}])",
              R"("performer": [{"reference": "Patient/1"}, {"reference": "RelatedPerson/2"}])"}}),
       {".performer"}, "structure", ""},
      {"performer not an array",
       Edit({{R"("performer": [{"reference": "Patient/1"}])",
              R"("performer": {"reference": "Patient/1"})"}}),
       {".performer"}, "structure",
       "Consent.performer: must be a JSON array (the element repeats in FHIR R4)"},
      {"sourceReference absent", Edit({{R"("sourceReference")", R"("sourceX")"}}),
       {".sourceReference"}, "required",
       "Consent.sourceReference: HRex 1.1 (hrex-consent) requires sourceReference, a reference to "
       "the signed consent (a DocumentReference) " + reference_form},
      {"sourceAttachment instead", Edit({{R"("sourceReference")", R"("sourceAttachment")"}}),
       {".sourceReference"}, "value", ""},
      {"policy absent", Edit({{R"("policy")", R"("policyX")"}}), {".policy"}, "required",
       policy_rule},
      {"policy of another guide",
       Edit({{"StructureDefinition-hrex-consent.html#regular", "consent-oauth.html#regular"}}),
       {".policy"}, "value", policy_rule},
      {"provision absent", Edit({{R"("provision")", R"("provisionX")"}}), {".provision"},
       "required",
       "Consent.provision: HRex 1.1 (hrex-consent) requires a provision: type permit, a period "
       "with start and end, the source and recipient payer actors, and the action disclose"},
      {"provision deny", Edit({{R"("type": "permit")", R"("type": "deny")"}}), {".provision.type"},
       "value", R"(Consent.provision.type: HRex 1.1 (hrex-consent) requires type "permit")"},
      {"period absent", Edit({{R"("period")", R"("periodX")"}}), {".provision.period"}, "required",
       "Consent.provision.period: HRex 1.1 (hrex-consent) requires a period with start and end"},
      {"period without end", Edit({{R"(, "end": "2035-01-31")", ""}}), {".provision.period.end"},
       "required",
       "Consent.provision.period.end: HRex 1.1 (hrex-consent) requires the end of the consent "
       "period"},
      {"actors absent", Edit({{R"("actor")", R"("actorX")"}}), {".provision.actor"}, "required",
       std::string(kActorRule) + "there are none"},
      {"recipient only", Edit({{kSourceActor, ""}}), {".provision.actor"}, "required",
       std::string(kActorRule) + "the source payer (role performer) is missing"},
      {"recipient with another role",
       Edit({{kRecipientRole, R"("system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                            "code": "PAYOR")"}}),
       {".provision.actor"}, "required",
       std::string(kActorRule) + "the recipient payer (role IRCP) is missing"},
      {"source without its payer",
       Edit({{R"("value": "9876543210"})", R"("value": ""})"}}),
       {".provision.actor[0].reference", ".provision.actor"}, "required",
       "Consent.provision.actor[0].reference: HRex 1.1 (hrex-consent) requires each payer actor to "
       "name the payer " + reference_form + "; an identifier reference is preferred"},
      {"action absent", Edit({{kAction, R"("actionX": [])"}}), {".provision.action"}, "required",
       "Consent.provision.action: HRex 1.1 (hrex-consent) requires exactly one action, "
       "http://terminology.hl7.org/CodeSystem/consentaction#disclose"},
      {"action access", Edit({{R"("code": "disclose")", R"("code": "access")"}}),
       {".provision.action"}, "value", ""},
      {"two actions",
       Edit({{kAction, R"("action": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "disclose"}]},
                                    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "access"}]}])"}}),
       {".provision.action"}, "structure", ""},
      {"purpose of use", Edit({{R"("type": "permit",)", R"("type": "permit", "purpose": [],)"}}),
       {".provision.purpose"}, "structure",
       "Consent.provision.purpose: HRex 1.1 (hrex-consent) prohibits this element: consent rules "
       "are expressed solely in policy"},
  };
}

TEST(HrexConsent, TheExampleConforms) {
  EXPECT_TRUE(CheckHrexConsent(p2p::testing::kHrexConsent, kPath).empty());
  // #sensitive and identifier references everywhere conform too.
  EXPECT_TRUE(CheckHrexConsent(
                  Edit({{"#regular", "#sensitive"},
                        {R"("patient": {"reference": "Patient/1"})",
                         R"("patient": {"identifier": {"system": "urn:x", "value": "1"}})"}}),
                  kPath)
                  .empty());
}

TEST(HrexConsent, EachBrokenRuleHasItsIssue) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::vector<ConsentIssue> issues = CheckHrexConsent(c.consent, kPath);
    std::vector<std::string> expressions;
    for (const ConsentIssue& issue : issues) expressions.push_back(issue.expression);
    std::vector<std::string> expected;
    for (const std::string& e : c.expressions) expected.push_back(kPath + e);
    EXPECT_EQ(expressions, expected);
    if (issues.empty()) continue;
    EXPECT_EQ(issues[0].code, c.code);
    if (!c.diagnostics.empty()) {
      EXPECT_EQ(issues[0].diagnostics, c.diagnostics);
    }
  }
}

// The daemon reads a 422 by its issue code and text: these never look like a match outcome.
TEST(HrexConsent, IssuesNeverReadLikeAMatchOutcome) {
  for (const Case& c : Cases()) {
    for (const ConsentIssue& issue : CheckHrexConsent(c.consent, kPath)) {
      std::string text = issue.diagnostics;
      std::transform(text.begin(), text.end(), text.begin(),
                     [](unsigned char ch) { return std::tolower(ch); });
      for (const char* word : {"no match", "not found", "multiple"}) {
        EXPECT_EQ(text.find(word), std::string::npos) << c.name << ": " << issue.diagnostics;
      }
      const std::vector<std::string> codes = {"invalid", "structure", "required", "value",
                                              "invariant"};
      EXPECT_NE(std::find(codes.begin(), codes.end(), issue.code), codes.end()) << c.name;
    }
  }
}

TEST(HrexConsent, NotAnObjectIsOneStructureIssue) {
  std::vector<ConsentIssue> issues = CheckHrexConsent("[1]", kPath);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "structure");
  EXPECT_EQ(issues[0].expression, kPath);
  EXPECT_EQ(issues[0].diagnostics, "Consent: must be a JSON object");
}

TEST(HrexConsent, OutcomeCarriesOneErrorIssuePerRule) {
  std::string body = ConsentIssuesOutcome(
      CheckHrexConsent(Edit({{R"("status": "active",)", ""}, {R"("policy")", R"("policyX")"}}),
                       kPath));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(body).get(doc)) << body;
  EXPECT_EQ(std::string_view(doc["resourceType"]), "OperationOutcome");
  simdjson::dom::array issues = doc["issue"];
  ASSERT_EQ(issues.size(), 2u);
  simdjson::dom::element first = issues.at(0);
  EXPECT_EQ(std::string_view(first["severity"]), "error");
  EXPECT_EQ(std::string_view(first["code"]), "required");
  EXPECT_EQ(std::string_view(first["expression"].at(0)), std::string(kPath) + ".status");
  EXPECT_EQ(std::string_view(issues.at(1)["expression"].at(0)), std::string(kPath) + ".policy");
}

}  // namespace
}  // namespace p2p::sandbox
