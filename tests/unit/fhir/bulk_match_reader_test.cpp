// fhir/bulk_match_reader.h: the PDex $bulk-member-match answer.
#include "fhir/bulk_match_reader.h"

#include <gtest/gtest.h>

#include <string>

namespace p2p::fhir {
namespace {

constexpr char kExt[] =
    "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-match-parameters";

std::string Contained(const std::string& id, const std::string& ref) {
  return R"({"resourceType":"Patient","id":")" + id +
         R"(","identifier":[{"system":"urn:p2p-ingest:bulk-member","value":")" + ref +
         R"("}],"name":[{"family":"Young"}]})";
}

std::string Member(const std::string& entity, const std::string& submitted) {
  std::string out = R"({"entity":{"reference":")" + entity + "\"";
  if (!submitted.empty()) {
    out += R"(,"extension":[{"url":")" + std::string(kExt) +
           R"(","valueReference":{"reference":")" + submitted + R"("}}])";
  }
  return out + "}}";
}

std::string Group(const std::string& id, const std::string& contained, const std::string& members) {
  return R"({"resourceType":"Group","id":")" + id +
         R"(","type":"person","actual":true,"contained":[)" + contained + R"(],"member":[)" +
         members + "]}";
}

std::string Answer(const std::string& params) {
  return R"({"resourceType":"Parameters","parameter":[)" + params + "]}";
}

std::string Param(const std::string& name, const std::string& group) {
  return R"({"name":")" + name + R"(","resource":)" + group + "}";
}

TEST(ReadBulkMemberMatch, ReadsTheThreeGroupsTheSpecsWay) {
  const std::string body = Answer(
      Param("MatchedMembers",
            Group("g-matched", Contained("m1", "m1") + "," + Contained("m2", "m2"),
                  Member("Patient/pp-1", "#m1") + "," + Member("Patient/pp-2", "#m2"))) +
      "," + Param("NonMatchedMembers", Group("g-no", Contained("m3", "m3"), Member("#m3", "#m3"))) +
      "," +
      Param("ConsentConstrainedMembers",
            Group("g-consent", Contained("m4", "m4"), Member("#m4", ""))));
  auto a = ReadBulkMemberMatch(body);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->matched_group_id, "g-matched");
  ASSERT_EQ(a->members.size(), 4u);
  EXPECT_EQ(a->members[0].member_ref, "m1");
  EXPECT_EQ(a->members[0].verdict, BulkMatchVerdict::kMatched);
  EXPECT_EQ(a->members[0].patient_id, "pp-1");
  EXPECT_EQ(a->members[1].patient_id, "pp-2");
  EXPECT_EQ(a->members[2].member_ref, "m3");
  EXPECT_EQ(a->members[2].verdict, BulkMatchVerdict::kNoMatch);
  EXPECT_EQ(a->members[2].patient_id, "");
  EXPECT_EQ(a->members[3].member_ref, "m4");
  EXPECT_EQ(a->members[3].verdict, BulkMatchVerdict::kConsentRefused);
}

TEST(ReadBulkMemberMatch, IdentifierOnTheContainedPatientWinsOverItsId) {
  const std::string body =
      Answer(Param("MatchedMembers", Group("g", Contained("renamed-by-server", "m7"),
                                           Member("Patient/pp", "#renamed-by-server"))));
  auto a = ReadBulkMemberMatch(body);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_EQ(a->members.size(), 1u);
  EXPECT_EQ(a->members[0].member_ref, "m7");
}

TEST(ReadBulkMemberMatch, AcceptsABundleWrappedAnswerAndMissingGroups) {
  const std::string params =
      Answer(Param("NonMatchedMembers", Group("n", Contained("m1", "m1"), Member("#m1", ""))));
  auto a = ReadBulkMemberMatch(
      R"({"resourceType":"Bundle","type":"batch-response","entry":[{"resource":)" + params + "}]}");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->matched_group_id, "");
  ASSERT_EQ(a->members.size(), 1u);
  EXPECT_EQ(a->members[0].verdict, BulkMatchVerdict::kNoMatch);
}

TEST(ReadBulkMemberMatch, RejectsBadShapesWithoutQuotingTheBody) {
  auto not_json = ReadBulkMemberMatch("{\"resourceType\":");
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().kind, ErrorKind::kParse);
  EXPECT_EQ(not_json.error().message, "$bulk-member-match answer: not JSON");

  auto oo = ReadBulkMemberMatch(R"({"resourceType":"OperationOutcome"})");
  ASSERT_FALSE(oo);
  EXPECT_EQ(oo.error().message, "$bulk-member-match answer: not a Parameters");

  auto no_id = ReadBulkMemberMatch(Answer(
      Param("MatchedMembers", Group("bad id", Contained("m1", "m1"), Member("Patient/p", "#m1")))));
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.error().kind, ErrorKind::kProtocol);
  EXPECT_EQ(no_id.error().message, "$bulk-member-match answer: matched Group has no FHIR id");

  auto nameless = ReadBulkMemberMatch(
      Answer(Param("NonMatchedMembers", Group("n", "", R"({"entity":{"display":"Jay"}})"))));
  ASSERT_FALSE(nameless);
  EXPECT_EQ(nameless.error().message,
            "$bulk-member-match answer: a Group member names no submitted member");

  auto too_many = ReadBulkMemberMatch(
      Answer(Param(
          "NonMatchedMembers",
          Group("n", "", Member("#a", "") + "," + Member("#b", "") + "," + Member("#c", "")))),
      2);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().kind, ErrorKind::kTooLarge);
  EXPECT_EQ(too_many.error().message, "$bulk-member-match answer: more than 2 members");
}

}  // namespace
}  // namespace p2p::fhir
