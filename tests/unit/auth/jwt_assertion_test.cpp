#include "auth/jwt_assertion.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

namespace p2p::auth {
namespace {

std::vector<std::string> Split(const std::string& jwt) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = jwt.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(jwt.substr(start, dot - start));
  }
  parts.push_back(jwt.substr(start));
  return parts;
}

bool Verifies(EVP_PKEY* key, const std::string& data, const std::string& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha384(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

SigningKey MakeKey(bool ec) {
  EVP_PKEY* k = ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")
                   : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  return SigningKey{std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free),
                    ec ? JwtAlgorithm::kEs384 : JwtAlgorithm::kRs384, "kid-1"};
}

AssertionInput Input() {
  AssertionInput in;
  in.client_id = "client \"one\"";
  in.audience = "https://auth.example/token";
  in.jti = "jti-1";
  in.now_unix = 1'700'000'000;
  return in;
}

TEST(JwtAssertion, Rs384HasTheSmartHeaderAndClaims) {
  SigningKey key = MakeKey(false);
  AssertionInput in = Input();
  in.jku = "https://client.example/jwks.json";
  Result<std::string> jwt = SignClientAssertion(key, in);
  ASSERT_TRUE(jwt.ok()) << jwt.error().message;
  auto parts = Split(*jwt);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(*Base64UrlDecode(parts[0]),
            R"({"alg":"RS384","typ":"JWT","kid":"kid-1","jku":"https://client.example/jwks.json"})");
  EXPECT_EQ(*Base64UrlDecode(parts[1]),
            R"({"iss":"client \"one\"","sub":"client \"one\"","aud":"https://auth.example/token",)"
            R"("exp":1700000240,"jti":"jti-1"})");
  EXPECT_TRUE(Verifies(key.pkey.get(), parts[0] + "." + parts[1], *Base64UrlDecode(parts[2])));
}

TEST(JwtAssertion, Es384SignatureIsRawRAndS) {
  SigningKey key = MakeKey(true);
  Result<std::string> jwt = SignClientAssertion(key, Input());
  ASSERT_TRUE(jwt.ok()) << jwt.error().message;
  auto parts = Split(*jwt);
  EXPECT_EQ(*Base64UrlDecode(parts[0]), R"({"alg":"ES384","typ":"JWT","kid":"kid-1"})");
  const std::string raw = *Base64UrlDecode(parts[2]);
  ASSERT_EQ(raw.size(), 96u);
  // Re-encode as DER the way a verifier must, and check it.
  ECDSA_SIG* sig = ECDSA_SIG_new();
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG_set0(sig, BN_bin2bn(p, 48, nullptr), BN_bin2bn(p + 48, 48, nullptr));
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  std::string der_sig(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  EXPECT_TRUE(Verifies(key.pkey.get(), parts[0] + "." + parts[1], der_sig));
}

TEST(JwtAssertion, LifetimeIsCappedAtFiveMinutes) {
  SigningKey key = MakeKey(true);
  AssertionInput in = Input();
  in.lifetime_seconds = 301;
  Result<std::string> jwt = SignClientAssertion(key, in);
  ASSERT_FALSE(jwt.ok());
  EXPECT_EQ(jwt.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(jwt.error().message, "client assertion: lifetime must be 1..300 seconds");
}

TEST(JwtAssertion, JtisAreFreshHex) {
  Result<std::string> a = NewJti();
  Result<std::string> b = NewJti();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

}  // namespace
}  // namespace p2p::auth
