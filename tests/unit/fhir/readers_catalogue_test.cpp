// The server-answer part of the bad-input catalogue (index: tests/integration/bad_input_test.cpp):
// the exact classified error each reader gives. The job runner stores "<kind>" as the job's
// error_class and the message in its error_detail (BadInput.* checks that end to end).
#include <gtest/gtest.h>

#include <string>

#include "core/url.h"
#include "fhir/export_status.h"
#include "fhir/member_match_reader.h"
#include "fhir/operation_outcome.h"
#include "fhir/resource_types.h"
#include "fhir/token_response.h"
#include "support/error_text.h"

namespace p2p::fhir {
namespace {

using p2p::testing::ErrorText;

TEST(ServerAnswerCatalogue, NonJson) {
  EXPECT_EQ(ErrorText(ReadTokenResponse("<html>")), "parse: token response: not JSON");
  EXPECT_EQ(ErrorText(ReadMemberMatch("<html>")), "parse: member-match answer: not JSON");
  EXPECT_EQ(ErrorText(ReadKickoff("", "<html>")), "parse: kick-off answer: not JSON");
  EXPECT_EQ(ErrorText(ReadStatus(200, "", "<html>")), "parse: status answer: not JSON");
  EXPECT_EQ(ReadOperationOutcome("<html>").cls, OutcomeClass::kNone);
}

TEST(ServerAnswerCatalogue, JsonOfTheWrongShape) {
  EXPECT_EQ(ErrorText(ReadMemberMatch(R"({"resourceType":"Bundle"})")),
            "protocol: member-match answer: resourceType: not Parameters");
  EXPECT_EQ(ErrorText(ReadStatus(200, "", R"({"output":{"type":"Patient"}})")),
            "protocol: status answer: output: not an array");
  EXPECT_EQ(ErrorText(ReadStatus(200, "", R"([{"type":"Patient","url":"https://h/1"}])")),
            "protocol: status answer: not a JSON object");
}

TEST(ServerAnswerCatalogue, GroupIdThatIsNotAFhirId) {
  EXPECT_EQ(
      ErrorText(ReadMemberMatch(
          R"({"resourceType":"Parameters","parameter":[{"name":"groupId","valueString":"../admin"}]})")),
      "protocol: member-match answer: group id is not a FHIR id");
  EXPECT_EQ(
      ErrorText(ReadMemberMatch(
          R"({"resourceType":"Parameters","parameter":[{"name":"x","valueReference":{"reference":"Group/a_b"}}]})")),
      "protocol: member-match answer: group id is not a FHIR id");
}

TEST(ServerAnswerCatalogue, PollUrlThatIsNotAbsolute) {
  // ReadKickoff returns the text as found; the runner resolves it against the request URL: an
  // absolute path is fine, anything else is refused.
  auto base = Url::Parse("https://payer.example/fhir/Group/g/$export");
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(base->Resolve("/fhir/job/1")->ToString(), "https://payer.example/fhir/job/1");
  EXPECT_EQ(ErrorText(base->Resolve("job/1")),
            "invalid: reference is neither an absolute URL nor an absolute path");
  EXPECT_EQ(
      ErrorText(ReadKickoff(
          "",
          R"({"resourceType":"OperationOutcome","issue":[{"diagnostics":"Track job at \u0001x"}]})")),
      "protocol: kick-off answer: Track job at: not a URL");
}

TEST(ServerAnswerCatalogue, OutputEntryWithAnUnknownType) {
  EXPECT_EQ(
      ErrorText(ReadStatus(200, "", R"({"output":[{"type":"patient","url":"https://h/1"}]})")),
      "protocol: status answer: output[0].type: not a FHIR resource type");
  EXPECT_EQ(ErrorText(ReadStatus(200, "",
                                 R"({"output":[{"type":"Patient; DROP","url":"https://h/1"}]})")),
            "protocol: status answer: output[0].type: not a FHIR resource type");
  EXPECT_EQ(ErrorText(ReadStatus(200, "", R"({"output":[{"type":7,"url":"https://h/1"}]})")),
            "protocol: status answer: output[0].type: not a string");
  // Well formed but not one of R4's resource types.
  EXPECT_EQ(
      ErrorText(ReadStatus(200, "", R"({"output":[{"type":"Bogus","url":"https://h/1"}]})")),
      "protocol: status answer: output[0].type: not a FHIR R4 resource type");
  EXPECT_TRUE(ReadStatus(200, "",
                         R"({"output":[{"type":"VisionPrescription","url":"https://h/1"}]})")
                  .ok());
}

TEST(R4ResourceTypes, KnowsEveryTypeAPayerExportsAndNothingElse) {
  for (std::string_view t : {"Patient", "Coverage", "ExplanationOfBenefit", "Encounter",
                             "Observation", "Condition", "Procedure", "MedicationRequest",
                             "AllergyIntolerance", "Immunization", "DocumentReference",
                             "Practitioner", "Organization", "Location", "Provenance",
                             "Account", "VisionPrescription"}) {
    EXPECT_TRUE(fhir::IsR4ResourceType(t)) << t;
  }
  for (std::string_view t : {"", "patient", "Bogus", "Resource", "DomainResource", "Patients",
                             "InventoryItem" /* R5 */}) {
    EXPECT_FALSE(fhir::IsR4ResourceType(t)) << t;
  }
  EXPECT_EQ(fhir::R4ResourceTypes().size(), 146u);
}

TEST(ServerAnswerCatalogue, ManifestWithThousandsOfFiles) {
  std::string body = R"({"output":[)";
  for (int i = 0; i <= 10000; ++i) {
    if (i) body += ',';
    body += R"({"type":"Patient","url":"https://h/)" + std::to_string(i) + "\"}";
  }
  body += "]}";
  EXPECT_EQ(ErrorText(ReadStatus(200, "", body)),
            "too_large: status answer: output: more than 10000 entries");
}

}  // namespace
}  // namespace p2p::fhir
