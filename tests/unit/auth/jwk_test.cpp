#include "auth/jwk.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace p2p::auth {
namespace {

std::shared_ptr<EVP_PKEY> NewKey(const char* type) {
  EVP_PKEY* k = std::string_view(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", type);
  return {k, EVP_PKEY_free};
}

std::string Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

class JwkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = NewKey("RSA");
    ec_ = NewKey("P-384");
  }
  static std::shared_ptr<EVP_PKEY> rsa_, ec_;
};
std::shared_ptr<EVP_PKEY> JwkTest::rsa_, JwkTest::ec_;

TEST(Jwk, Base64UrlRoundTripsWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlEncode("abcd"), "YWJjZA");
  EXPECT_EQ(*Base64UrlDecode("YWJjZA"), "abcd");
  EXPECT_EQ(*Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("YWJjZA==").ok());
  EXPECT_FALSE(Base64UrlDecode("a+b/").ok());
}

TEST_F(JwkTest, PemRsaKeyDefaultsToRs384AndItsThumbprintAsKid) {
  Result<SigningKey> key = ParseSigningKey(Pem(rsa_.get()), "", JwtAlgorithm::kFromKey);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->algorithm, JwtAlgorithm::kRs384);
  EXPECT_EQ(key->kid, *JwkThumbprint(rsa_.get()));
  EXPECT_EQ(key->kid.size(), 43u);  // SHA-256, base64url
}

TEST_F(JwkTest, PemEcKeyIsEs384WithTheConfiguredKid) {
  Result<SigningKey> key = ParseSigningKey(Pem(ec_.get()), "k1", JwtAlgorithm::kFromKey);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->algorithm, JwtAlgorithm::kEs384);
  EXPECT_EQ(key->kid, "k1");
}

TEST_F(JwkTest, AlgorithmMustMatchTheKeyType) {
  Result<SigningKey> key = ParseSigningKey(Pem(ec_.get()), "k1", JwtAlgorithm::kRs384);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(key.error().message, "algorithm RS384 does not match the key type");
}

TEST_F(JwkTest, OtherCurvesAndGarbageAreRefused) {
  std::shared_ptr<EVP_PKEY> p256 = NewKey("P-256");
  EXPECT_EQ(ParseSigningKey(Pem(p256.get()), "", JwtAlgorithm::kFromKey).error().message,
            "EC key is not on curve P-384");
  EXPECT_EQ(ParseSigningKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "",
                            JwtAlgorithm::kFromKey)
                .error()
                .message,
            "not a PEM private key (encrypted keys are not supported)");
  EXPECT_EQ(ParseSigningKey("  \n", "", JwtAlgorithm::kFromKey).error().message,
            "key text is empty");
}

TEST_F(JwkTest, JwkSetPicksThePrivateKeyByKid) {
  const std::string set = "{\"keys\":[" + *KeyToJwk(rsa_.get(), "r1", JwtAlgorithm::kFromKey, true) +
                          "," + *KeyToJwk(ec_.get(), "e1", JwtAlgorithm::kFromKey, true) + "]}";
  Result<SigningKey> ec = ParseSigningKey(set, "e1", JwtAlgorithm::kFromKey);
  ASSERT_TRUE(ec.ok()) << ec.error().message;
  EXPECT_EQ(ec->algorithm, JwtAlgorithm::kEs384);
  EXPECT_EQ(EVP_PKEY_eq(ec->pkey.get(), ec_.get()), 1);
  Result<SigningKey> rsa = ParseSigningKey(set, "r1", JwtAlgorithm::kFromKey);
  ASSERT_TRUE(rsa.ok()) << rsa.error().message;
  EXPECT_EQ(EVP_PKEY_eq(rsa->pkey.get(), rsa_.get()), 1);

  EXPECT_EQ(ParseSigningKey(set, "", JwtAlgorithm::kFromKey).error().message,
            "JWK set has several private keys: set auth.key_id");
  EXPECT_EQ(ParseSigningKey(set, "zz", JwtAlgorithm::kFromKey).error().message,
            "JWK set has no private key with kid \"zz\"");
}

TEST_F(JwkTest, SingleJwkUsesItsOwnKid) {
  Result<SigningKey> key = ParseSigningKey(
      *KeyToJwk(ec_.get(), "own", JwtAlgorithm::kFromKey, true), "", JwtAlgorithm::kFromKey);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->kid, "own");
}

TEST_F(JwkTest, PublicJwkHasNoPrivateMembers) {
  const std::string pub = *KeyToJwk(ec_.get(), "e1", JwtAlgorithm::kFromKey, false);
  EXPECT_EQ(pub.find("\"d\""), std::string::npos);
  EXPECT_NE(pub.find("\"crv\":\"P-384\""), std::string::npos);
  EXPECT_NE(pub.find("\"alg\":\"ES384\""), std::string::npos);
  EXPECT_EQ(ParseSigningKey("{\"keys\":[" + pub + "]}", "", JwtAlgorithm::kFromKey).error().message,
            "JWK set has no private key");
}

TEST(Jwk, ErrorsNeverQuoteKeyMaterial) {
  Result<SigningKey> key =
      ParseSigningKey(R"({"keys":[{"kty":"RSA","kid":"a","n":"SECRETn","e":"AQAB","d":"SECRET!"}]})",
                      "", JwtAlgorithm::kFromKey);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().message.find("SECRET"), std::string::npos) << key.error().message;
}

}  // namespace
}  // namespace p2p::auth
