#include "fhir/readers.h"

#include <gtest/gtest.h>

#include <string>

#include "support/error_text.h"

namespace p2p::fhir {
namespace {

using p2p::testing::ErrorText;

// --- token ---

TEST(ReadTokenResponse, KeycloakAnswer) {
  auto r = ReadTokenResponse(
      R"({"access_token":"eyJhbGciOi.abc.def","expires_in":300,"refresh_expires_in":0,)"
      R"("token_type":"Bearer","not-before-policy":0,"scope":"member-match read"})");
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(r->access_token, "eyJhbGciOi.abc.def");
  EXPECT_EQ(r->token_type, "Bearer");
  EXPECT_EQ(r->expires_in, 300);
  EXPECT_EQ(r->scope, "member-match read");
}

TEST(ReadTokenResponse, DefaultsAndClamps) {
  auto r = ReadTokenResponse(R"({"access_token":"t"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->expires_in, 300);
  EXPECT_EQ(r->token_type, "Bearer");
  EXPECT_EQ(
      ReadTokenResponse(R"({"access_token":"t","token_type":"bearer","expires_in":0})")->expires_in,
      1);
  EXPECT_EQ(ReadTokenResponse(R"({"access_token":"t","expires_in":9999999})")->expires_in, 86400);
  EXPECT_EQ(ReadTokenResponse(R"({"access_token":"t","expires_in":"3600"})")->expires_in, 3600);
  EXPECT_EQ(ReadTokenResponse(R"({"access_token":"t","expires_in":3600.0})")->expires_in, 3600);
}

TEST(ReadTokenResponse, ErrorShapes) {
  EXPECT_EQ(ErrorText(ReadTokenResponse("<html>")), "parse: token response: not JSON");
  EXPECT_EQ(ErrorText(ReadTokenResponse("[]")), "protocol: token response: not a JSON object");
  EXPECT_EQ(ErrorText(ReadTokenResponse(R"({"error":"invalid_client"})")),
            "protocol: token response: access_token: missing");
  EXPECT_EQ(ErrorText(ReadTokenResponse(R"({"access_token":""})")),
            "protocol: token response: access_token: empty");
  EXPECT_EQ(ErrorText(ReadTokenResponse(R"({"access_token":5})")),
            "protocol: token response: access_token: not a string");
  EXPECT_EQ(ErrorText(ReadTokenResponse(R"({"access_token":"a\r\nX-Evil: 1"})")),
            "protocol: token response: access_token: not a printable token");
  EXPECT_EQ(ErrorText(ReadTokenResponse(R"({"access_token":")" + std::string(8193, 'a') + "\"}")),
            "too_large: token response: access_token: longer than 8192 bytes");
  EXPECT_EQ(ErrorText(ReadTokenResponse(R"({"access_token":"t","token_type":"mac"})")),
            "protocol: token response: token_type: not Bearer");
  EXPECT_EQ(ErrorText(ReadTokenResponse(R"({"access_token":"t","expires_in":"soon"})")),
            "protocol: token response: expires_in: not a number");
  EXPECT_EQ(ErrorText(ReadTokenResponse(R"({"access_token":"t","scope":1})")),
            "protocol: token response: scope: not a string");
}

TEST(ReadOAuthError, Codes) {
  EXPECT_EQ(ReadOAuthError(R"({"error":"invalid_client","error_description":"bad"})"),
            "invalid_client");
  EXPECT_EQ(ReadOAuthError("not json"), "");
  EXPECT_EQ(ReadOAuthError(R"({"error":{"code":1}})"), "");
  EXPECT_EQ(ReadOAuthError(R"({"error":"a\nb"})"), "");
  EXPECT_EQ(ReadOAuthError(R"({"error":")" + std::string(300, 'a') + "\"}"), "");
}

// --- $member-match ---

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
