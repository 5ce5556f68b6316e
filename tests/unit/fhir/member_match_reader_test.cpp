#include "fhir/member_match_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "support/error_text.h"

namespace p2p::fhir {
namespace {

using p2p::testing::ErrorText;

TEST(ReadMemberMatch, HrexMemberIdentifierWithPatientMemberId) {
  // HRex STU 1.1 example answer: MemberId is a Patient reference, not a Group.
  auto r = ReadMemberMatch(R"({
    "resourceType" : "Parameters",
    "id" : "member-match-out",
    "parameter" : [
      {"name" : "MemberIdentifier",
       "valueIdentifier" : {"system" : "http://example.org/target-payer/identifiers/member",
                            "value" : "55678"}},
      {"name" : "MemberId",
       "valueReference" : {"reference" : "http://example.org/new-payer/fhir/Patient/pat1"}}
    ]})");
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(r->group_id, "");
  EXPECT_EQ(r->member_identifier, "55678");
}

TEST(ReadMemberMatch, MemberIdAsIdentifier) {
  auto r = ReadMemberMatch(R"({"resourceType":"Parameters","parameter":[{"name":"MemberId",)"
                           R"("valueIdentifier":{"value":"M-1"}}]})");
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(r->member_identifier, "M-1");
}

TEST(ReadMemberMatch, GroupIdShapes) {
  const std::string shapes[] = {
      R"({"resourceType":"Parameters","parameter":[{"name":"groupId","valueString":"cmk1cuald0005l701sdo7gs8c"}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"groupId","valueId":"cmk1cuald0005l701sdo7gs8c"}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"GroupId","valueCode":"cmk1cuald0005l701sdo7gs8c"}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"MemberGroup","valueReference":{"reference":"Group/cmk1cuald0005l701sdo7gs8c"}}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"x","valueReference":{"reference":"https://gw.example/v1/bison/Group/cmk1cuald0005l701sdo7gs8c"}}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"x","valueReference":{"reference":"Group/cmk1cuald0005l701sdo7gs8c/_history/2"}}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"MatchedMembers","resource":{"resourceType":"Group","id":"cmk1cuald0005l701sdo7gs8c"}}]})",
      R"({"resourceType":"Group","id":"cmk1cuald0005l701sdo7gs8c"})",
      R"({"groupId":"cmk1cuald0005l701sdo7gs8c"})",
  };
  for (const std::string& body : shapes) {
    auto r = ReadMemberMatch(body);
    ASSERT_TRUE(r.ok()) << ErrorText(r) << " in " << body;
    EXPECT_EQ(r->group_id, "cmk1cuald0005l701sdo7gs8c") << body;
  }
}

TEST(ReadMemberMatch, GroupAndIdentifierTogether) {
  auto r = ReadMemberMatch(R"({"resourceType":"Parameters","parameter":[)"
                           R"({"name":"MemberIdentifier","valueIdentifier":{"value":"55678"}},)"
                           R"({"name":"groupId","valueString":"g1"}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->group_id, "g1");
  EXPECT_EQ(r->member_identifier, "55678");
}

TEST(ReadMemberMatch, ErrorShapes) {
  EXPECT_EQ(ErrorText(ReadMemberMatch("oops")), "parse: member-match answer: not JSON");
  EXPECT_EQ(ErrorText(ReadMemberMatch("1")), "protocol: member-match answer: not a JSON object");
  EXPECT_EQ(ErrorText(ReadMemberMatch(R"({"resourceType":"OperationOutcome","issue":[]})")),
            "protocol: member-match answer: resourceType: not Parameters");
  EXPECT_EQ(ErrorText(ReadMemberMatch(R"({"resourceType":"Parameters","parameter":{}})")),
            "protocol: member-match answer: parameter: not an array");
  EXPECT_EQ(ErrorText(ReadMemberMatch(R"({"resourceType":"Parameters","parameter":[]})")),
            "protocol: member-match answer: no group id and no MemberIdentifier");
  EXPECT_EQ(ErrorText(ReadMemberMatch(R"({"resourceType":"Parameters"})")),
            "protocol: member-match answer: no group id and no MemberIdentifier");
  EXPECT_EQ(
      ErrorText(ReadMemberMatch(
          R"({"resourceType":"Parameters","parameter":[{"name":"groupId","valueString":"a/../b"}]})")),
      "protocol: member-match answer: group id is not a FHIR id");
  EXPECT_EQ(
      ErrorText(ReadMemberMatch(
          R"({"resourceType":"Parameters","parameter":[{"name":"groupId","valueString":""}]})")),
      "protocol: member-match answer: group id is not a FHIR id");
  EXPECT_EQ(
      ErrorText(ReadMemberMatch(
          R"({"resourceType":"Parameters","parameter":[{"name":"MemberIdentifier","valueIdentifier":{"value":")" +
          std::string(300, '1') + "\"}}]}")),
      "too_large: member-match answer: MemberIdentifier: longer than 256 bytes");
}

}  // namespace
}  // namespace p2p::fhir
