#include "fhir/operation_outcome.h"

#include <gtest/gtest.h>

#include <string>

namespace p2p::fhir {
namespace {

// --- answers: classification ---

TEST(ReadOperationOutcome, Classification) {
  struct Case {
    std::string body;
    OutcomeClass cls;
  };
  auto oo = [](std::string code, std::string text) {
    return R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":")" + code +
           R"(","details":{"text":")" + text + R"("}}]})";
  };
  const Case cases[] = {
      {oo("not-found", "Member could not be matched"), OutcomeClass::kNoMatch},
      {oo("multiple-matches", ""), OutcomeClass::kNoMatch},
      {oo("processing", "No match found"), OutcomeClass::kNoMatch},
      {oo("processing", "Patient NOT FOUND"), OutcomeClass::kNoMatch},
      {oo("processing", "Multiple members match"), OutcomeClass::kNoMatch},
      {oo("processing", "Consent is not valid for this request"), OutcomeClass::kConsentRefused},
      {oo("forbidden", "consent policy not supported"), OutcomeClass::kConsentRefused},
      {oo("not-found", "Consent not found"), OutcomeClass::kConsentRefused},
      {oo("transient", "try again"), OutcomeClass::kTransient},
      {oo("throttled", "slow down"), OutcomeClass::kTransient},
      {oo("timeout", "multiple upstream timeouts"), OutcomeClass::kTransient},
      // A request refused as invalid, whatever the text says ("Consent" included).
      {oo("invalid", "Consent.provision.actor: HRex 1.1 requires at least 2 actors"),
       OutcomeClass::kRequestInvalid},
      {oo("structure", "Unknown element Consent.foo"), OutcomeClass::kRequestInvalid},
      {oo("required", "Consent.policy: minimum required = 1"), OutcomeClass::kRequestInvalid},
      {oo("value", "Consent.status: not active"), OutcomeClass::kRequestInvalid},
      {oo("invariant", "ppc-1: Either a Policy or PolicyRule"), OutcomeClass::kRequestInvalid},
      {oo("invalid", "No match found"), OutcomeClass::kRequestInvalid},
      // ... but a transient code still wins, and a validation warning refuses nothing.
      {R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid"},)"
       R"({"severity":"error","code":"transient"}]})",
       OutcomeClass::kTransient},
      {R"({"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"value",)"
       R"("diagnostics":"Consent.dateTime: should be a dateTime"},{"severity":"error",)"
       R"("code":"business-rule","diagnostics":"Consent refused: period does not cover today"}]})",
       OutcomeClass::kConsentRefused},
      {R"({"resourceType":"OperationOutcome","issue":[{"severity":"information",)"
       R"("code":"invariant"},{"severity":"error","code":"processing",)"
       R"("diagnostics":"No match found"}]})",
       OutcomeClass::kNoMatch},
      {R"({"resourceType":"OperationOutcome","issue":[{"code":"required"}]})",
       OutcomeClass::kRequestInvalid},
      {oo("forbidden", "no access"), OutcomeClass::kOther},
      {oo("exception", "boom"), OutcomeClass::kOther},
      {R"({"resourceType":"OperationOutcome"})", OutcomeClass::kOther},
      {R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing",)"
       R"("diagnostics":"member not found"}]})",
       OutcomeClass::kNoMatch},
      {R"({"resourceType":"OperationOutcome","issue":[{"code":"informational"},)"
       R"({"code":"not-found"}]})",
       OutcomeClass::kNoMatch},
      {R"({"resourceType":"Parameters"})", OutcomeClass::kNone},
      {R"({"error":"not found"})", OutcomeClass::kNone},
      {"Service Unavailable", OutcomeClass::kNone},
      {"", OutcomeClass::kNone},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(static_cast<int>(ReadOperationOutcome(c.body).cls), static_cast<int>(c.cls))
        << c.body;
  }
}

TEST(ReadOperationOutcome, FirstIssueCodeAndSummary) {
  auto info = ReadOperationOutcome(
      R"({"resourceType":"OperationOutcome","issue":[{"code":"processing","diagnostics":"d1"},)"
      R"({"code":"not-found","details":{"text":"t2"}}]})");
  EXPECT_EQ(info.code, "processing");
  EXPECT_EQ(info.summary, "d1");
  info = ReadOperationOutcome(
      R"({"resourceType":"OperationOutcome","issue":[{"code":"x","diagnostics":"d",)"
      R"("details":{"text":"t"}}]})");
  EXPECT_EQ(info.summary, "t");
}

TEST(ReadOperationOutcome, RequestInvalidSummaryListsTheValidationIssues) {
  auto info = ReadOperationOutcome(
      R"({"resourceType":"OperationOutcome","issue":[)"
      R"({"severity":"information","code":"informational","diagnostics":"validated"},)"
      R"({"severity":"error","code":"required","expression":["Consent.provision.actor"],)"
      R"("diagnostics":"HRex 1.1 requires at least 2 actors"},)"
      R"({"severity":"warning","code":"value","diagnostics":"not counted"},)"
      R"({"severity":"fatal","code":"invalid","expression":["Consent.policy"],)"
      R"("details":{"text":"Consent.policy: minimum required = 1"}},)"
      R"({"severity":"error","code":"structure","expression":["Consent.x"]}]})");
  EXPECT_EQ(static_cast<int>(info.cls), static_cast<int>(OutcomeClass::kRequestInvalid));
  EXPECT_EQ(info.code, "informational");
  EXPECT_EQ(info.summary,
            "Consent.provision.actor: HRex 1.1 requires at least 2 actors; "
            "Consent.policy: minimum required = 1; Consent.x");
  // Long diagnostics are cut at 1000 bytes.
  info = ReadOperationOutcome(
      R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid",)"
      R"("diagnostics":")" + std::string(1500, 'x') + R"("},{"severity":"error","code":"value",)"
      R"("diagnostics":"more"}]})");
  EXPECT_EQ(info.summary, std::string(1000, 'x'));
}

TEST(ReadOperationOutcome, SummaryIsCutAtAUtf8Boundary) {
  // 199 ASCII bytes then "é" (2 bytes): the cut at 200 would split it.
  const std::string text = std::string(199, 'a') + "\xc3\xa9" + "tail";
  auto info = ReadOperationOutcome(
      R"({"resourceType":"OperationOutcome","issue":[{"code":"x","diagnostics":")" + text +
      "\"}]}");
  EXPECT_EQ(info.summary, std::string(199, 'a'));
  const std::string exact = std::string(198, 'a') + "\xc3\xa9" + "tail";
  info = ReadOperationOutcome(
      R"({"resourceType":"OperationOutcome","issue":[{"code":"x","diagnostics":")" + exact +
      "\"}]}");
  EXPECT_EQ(info.summary, std::string(198, 'a') + "\xc3\xa9");
}

// --- error[] file lines ---

TEST(ReadOutcomeLine, ReadsEveryIssueWithSeverityCodeAndText) {
  auto r = ReadOutcomeLine(
      R"({"resourceType":"OperationOutcome","issue":[)"
      R"({"severity":"error","code":"processing","diagnostics":"Observation/1 failed"},)"
      R"({"severity":"warning","code":"not-found","details":{"text":"Patient/2 gone"}}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].severity, "error");
  EXPECT_EQ((*r)[0].code, "processing");
  EXPECT_EQ((*r)[0].diagnostics, "Observation/1 failed");
  EXPECT_EQ((*r)[1].severity, "warning");
  EXPECT_EQ((*r)[1].code, "not-found");
  EXPECT_EQ((*r)[1].diagnostics, "Patient/2 gone");
}

TEST(ReadOutcomeLine, OddSeveritiesAndCodesAreNormalised) {
  auto r = ReadOutcomeLine(
      R"({"resourceType":"OperationOutcome","issue":[{"severity":"loud","code":"two words"},)"
      R"({"code":7}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].severity, "");
  EXPECT_EQ((*r)[0].code, "unknown");
  EXPECT_EQ((*r)[1].code, "unknown");
  auto empty = ReadOutcomeLine(R"({"resourceType":"OperationOutcome"})");
  ASSERT_TRUE(empty.ok());
  ASSERT_EQ(empty->size(), 1u);
  EXPECT_EQ((*empty)[0].code, "unknown");
}

TEST(ReadOutcomeLine, LongDiagnosticsAreCut) {
  const std::string text(5000, 'x');
  auto r = ReadOutcomeLine(R"({"resourceType":"OperationOutcome","issue":[{"code":"x",)"
                           R"("diagnostics":")" + text + R"("}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].diagnostics.size(), 1000u);
}

TEST(ReadOutcomeLine, OtherResourcesAndGarbageAreErrorsWithoutQuotingTheLine) {
  auto other = ReadOutcomeLine(R"({"resourceType":"Patient","name":[{"family":"Young"}]})");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().kind, ErrorKind::kProtocol);
  EXPECT_EQ(other.error().message, "error file line: not an OperationOutcome");
  auto garbage = ReadOutcomeLine("{Young");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().kind, ErrorKind::kParse);
  EXPECT_EQ(garbage.error().message, "error file line: not JSON");
}

}  // namespace
}  // namespace p2p::fhir
