#include "fhir/token_response.h"

#include <gtest/gtest.h>

#include <string>

#include "support/error_text.h"

namespace p2p::fhir {
namespace {

using p2p::testing::ErrorText;

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

}  // namespace
}  // namespace p2p::fhir
