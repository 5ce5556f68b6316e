// The sandbox's assertion verifier, fed assertions from the daemon's signer (lib/auth): the two
// sides were written independently, so agreement here is evidence both read the spec alike.
#include "jwt_verify.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "auth/jwk.h"
#include "auth/jwt_assertion.h"

namespace p2p::sandbox {
namespace {

constexpr char kTokenUrl[] = "http://127.0.0.1:9/auth/realms/dev-portal/protocol/openid-connect/token";
constexpr int64_t kNow = 1'700'000'000;

class JwtVerifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = {EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), EVP_PKEY_free};
    ec_ = {EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"), EVP_PKEY_free};
    other_ = {EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"), EVP_PKEY_free};
  }
  void SetUp() override {
    const std::string jwks =
        "{\"keys\":[" + *auth::KeyToJwk(rsa_.get(), "r1", JwtAlgorithm::kFromKey, false) + "," +
        *auth::KeyToJwk(ec_.get(), "e1", JwtAlgorithm::kFromKey, false) + "]}";
    std::string error;
    ASSERT_TRUE(verifier_.AddClient("client-1", jwks, &error)) << error;
  }
  std::string Sign(const std::shared_ptr<EVP_PKEY>& key, const std::string& kid,
                   auth::AssertionInput in) {
    const bool ec = EVP_PKEY_is_a(key.get(), "EC");
    auth::SigningKey signing{key, ec ? JwtAlgorithm::kEs384 : JwtAlgorithm::kRs384, kid};
    return *auth::SignClientAssertion(signing, in);
  }
  auth::AssertionInput Input(std::string jti = "j1") {
    auth::AssertionInput in;
    in.client_id = "client-1";
    in.audience = kTokenUrl;
    in.jti = std::move(jti);
    in.now_unix = kNow;
    return in;
  }
  std::string Rejection(const std::string& assertion, int64_t now = kNow) {
    AssertionVerdict v = verifier_.Verify(assertion, kTokenUrl, now);
    return v.ok ? "accepted" : v.description;
  }

  static std::shared_ptr<EVP_PKEY> rsa_, ec_, other_;
  AssertionVerifier verifier_;
};
std::shared_ptr<EVP_PKEY> JwtVerifyTest::rsa_, JwtVerifyTest::ec_, JwtVerifyTest::other_;

TEST_F(JwtVerifyTest, AcceptsRs384AndEs384FromRegisteredKeys) {
  AssertionVerdict rs = verifier_.Verify(Sign(rsa_, "r1", Input("a")), kTokenUrl, kNow);
  EXPECT_TRUE(rs.ok) << rs.description;
  EXPECT_EQ(rs.client_id, "client-1");
  AssertionVerdict es = verifier_.Verify(Sign(ec_, "e1", Input("b")), kTokenUrl, kNow);
  EXPECT_TRUE(es.ok) << es.description;
}

TEST_F(JwtVerifyTest, RejectsAReusedJti) {
  EXPECT_EQ(Rejection(Sign(ec_, "e1", Input("same"))), "accepted");
  EXPECT_EQ(Rejection(Sign(ec_, "e1", Input("same"))), "jti has already been used");
}

TEST_F(JwtVerifyTest, RejectsAWrongAudience) {
  auth::AssertionInput in = Input();
  in.audience = std::string(kTokenUrl) + "/";
  EXPECT_EQ(Rejection(Sign(rsa_, "r1", in)), "aud must be the token endpoint URL");
}

TEST_F(JwtVerifyTest, RejectsAnExpiredAssertionAndOneTooFarAhead) {
  EXPECT_EQ(Rejection(Sign(rsa_, "r1", Input()), kNow + 240), "client_assertion has expired (exp)");
  EXPECT_EQ(Rejection(Sign(rsa_, "r1", Input("k")), kNow - 61),
            "exp is more than five minutes in the future");
}

TEST_F(JwtVerifyTest, RejectsABadSignature) {
  // Signed by an unregistered key under a registered kid.
  EXPECT_EQ(Rejection(Sign(other_, "e1", Input())), "signature verification failed");
  // A claim altered after signing.
  std::string jwt = Sign(rsa_, "r1", Input("x"));
  const size_t dot1 = jwt.find('.'), dot2 = jwt.find('.', dot1 + 1);
  std::string claims = *auth::Base64UrlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  claims.replace(claims.find("client-1", claims.find("sub")), 8, "client-2");
  claims.replace(claims.find("client-1"), 8, "client-2");
  EXPECT_EQ(Rejection(jwt.substr(0, dot1 + 1) + auth::Base64UrlEncode(claims) + jwt.substr(dot2)),
            "unknown client (iss)");
  std::string tampered = jwt;  // one signature byte changed
  tampered[dot2 + 10] = tampered[dot2 + 10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Rejection(tampered), "signature verification failed");
}

TEST_F(JwtVerifyTest, RejectsUnknownKidAndMalformedTokens) {
  EXPECT_EQ(Rejection(Sign(ec_, "nope", Input())), "no registered key matches kid and alg");
  EXPECT_EQ(Rejection("a.b"), "client_assertion is not a compact JWS");
  EXPECT_EQ(Rejection("a+.b.c"), "client_assertion is not base64url");
}

TEST_F(JwtVerifyTest, ABadSignatureDoesNotBurnTheJti) {
  EXPECT_EQ(Rejection(Sign(other_, "e1", Input("fresh"))), "signature verification failed");
  EXPECT_EQ(Rejection(Sign(ec_, "e1", Input("fresh"))), "accepted");
}

TEST(JwtVerify, JwksWithUnusableKeysIsRefused) {
  std::string error;
  EXPECT_FALSE(ParsePublicJwks(R"({"keys":[{"kty":"oct","k":"AA"}]})", &error));
  EXPECT_EQ(error, "keys[0]: kty must be RSA or EC");
  EXPECT_FALSE(ParsePublicJwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]})", &error));
  EXPECT_EQ(error, "keys[0]: not a usable RSA (>= 2048 bits) or EC P-384 public key");
  EXPECT_FALSE(ParsePublicJwks("[]", &error));
  EXPECT_EQ(error, "expected a JWK set {\"keys\":[...]}");
}

}  // namespace
}  // namespace p2p::sandbox
