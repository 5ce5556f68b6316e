// SMART auth end to end: the daemon gets its token from p2p-sandbox with every client
// authentication method (client_secret_post, client_secret_basic, private_key_jwt RS384 and
// ES384) and with the token URL discovered from .well-known/smart-configuration, and finishes
// its members; and the sandbox rejects a reused jti, a wrong aud, an expired assertion and a bad
// signature with the OAuth error SMART Backend Services names (invalid_client). Keys are made at
// run time.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>

#include "auth/jwk.h"
#include "auth/jwt_assertion.h"
#include "integration/daemon_harness.h"
#include "support/http_client.h"
#include "support/sandbox_process.h"
#include "support/temp_dir.h"

namespace p2p::testing {
namespace {

constexpr char kTokenPath[] = "/auth/realms/dev-portal/protocol/openid-connect/token";
constexpr char kForm[] = "application/x-www-form-urlencoded";

std::shared_ptr<EVP_PKEY> NewKey(bool ec) {
  EVP_PKEY* k = ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")
                   : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  return {k, EVP_PKEY_free};
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

std::string Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Keys for the whole suite: an RSA and an EC P-384 pair, the sandbox's public JWK set, the
// daemon's PEM file and private JWK set, in one temp dir.
class SmartAuth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new TempDir("p2p-smart-");
    rsa_ = NewKey(false);
    ec_ = NewKey(true);
    const auto jwk = [](EVP_PKEY* k, const char* kid, bool priv) {
      return *auth::KeyToJwk(k, kid, JwtAlgorithm::kFromKey, priv);
    };
    WriteFile(keys_->File("client.jwks"),
              "{\"keys\":[" + jwk(rsa_.get(), "rsa-1", false) + "," + jwk(ec_.get(), "ec-1", false) +
                  "]}",
              0644);
    WriteFile(keys_->File("rsa.pem"), Pem(rsa_.get()), 0600);
    WriteFile(keys_->File("private.jwks"),
              "{\"keys\":[" + jwk(rsa_.get(), "rsa-1", true) + "," + jwk(ec_.get(), "ec-1", true) +
                  "]}",
              0600);
  }
  static void TearDownTestSuite() {
    delete keys_;
    rsa_.reset();
    ec_.reset();
  }

  // The daemon, configured with `auth_yaml`, against a sandbox that knows jwt-client's keys;
  // every member must reach its expected outcome.
  void RunDaemon(const std::string& auth_yaml) {
    HarnessOptions o;
    o.members = 6;
    o.concurrency = 4;
    o.auth_yaml = auth_yaml;
    o.sandbox_args = {"--client-jwks", "jwt-client:" + keys_->File("client.jwks")};
    DaemonHarness h(o);
    ASSERT_EQ(h.Start(), "");
    h.DropRoster("members.csv");
    ASSERT_EQ(h.RunOnce(std::chrono::seconds(60)), 0) << h.last_run().err;
    const Expected want = h.LoadExpected();
    EXPECT_EQ(h.MemberStates(), want.outcome) << h.last_run().out << h.last_run().err;
  }

  static TempDir* keys_;
  static std::shared_ptr<EVP_PKEY> rsa_, ec_;
};
TempDir* SmartAuth::keys_ = nullptr;
std::shared_ptr<EVP_PKEY> SmartAuth::rsa_, SmartAuth::ec_;

constexpr char kTokenUrlYaml[] =
    "      token_url: {sandbox}/auth/realms/dev-portal/protocol/openid-connect/token\n";

TEST_F(SmartAuth, ClientSecretPost) {
  RunDaemon(std::string("      method: client_secret_post\n") + kTokenUrlYaml +
            "      client_id: sandbox-client\n      client_secret_file: secret\n");
}

TEST_F(SmartAuth, ClientSecretBasic) {
  RunDaemon(std::string("      method: client_secret_basic\n") + kTokenUrlYaml +
            "      client_id: sandbox-client\n      client_secret_file: secret\n");
}

TEST_F(SmartAuth, PrivateKeyJwtRs384FromPemFile) {
  RunDaemon(std::string("      method: private_key_jwt\n") + kTokenUrlYaml +
            "      client_id: jwt-client\n      private_key_file: " + keys_->File("rsa.pem") +
            "\n      key_id: rsa-1\n      algorithm: RS384\n      scope: system/*.read\n");
}

TEST_F(SmartAuth, PrivateKeyJwtEs384FromJwkSet) {
  RunDaemon(std::string("      method: private_key_jwt\n") + kTokenUrlYaml +
            "      client_id: jwt-client\n      jwks_file: " + keys_->File("private.jwks") +
            "\n      key_id: ec-1\n");
}

TEST_F(SmartAuth, TokenUrlDiscoveredFromSmartConfiguration) {
  // private_key_jwt without token_url discovers it; so does a secret method with discover: true.
  RunDaemon("      method: private_key_jwt\n      client_id: jwt-client\n      jwks_file: " +
            keys_->File("private.jwks") + "\n      key_id: rsa-1\n");
  RunDaemon(
      "      method: client_secret_post\n      discover: true\n      client_id: sandbox-client\n"
      "      client_secret_file: secret\n");
}

class SmartAuthSandbox : public SmartAuth {
 protected:
  void SetUp() override {
    std::string error;
    sandbox_ = StartSandbox({"--client-jwks", "jwt-client:" + keys_->File("client.jwks")}, &error);
    ASSERT_TRUE(sandbox_) << error;
    client_ = std::make_unique<HttpClient>(sandbox_->url);
  }
  // An assertion for jwt-client, signed with the EC key unless `key` says otherwise.
  std::string Assertion(const std::string& jti, int64_t now, std::string aud = "",
                        EVP_PKEY* key = nullptr) {
    auth::SigningKey signing;
    signing.pkey = key ? std::shared_ptr<EVP_PKEY>(key, [](EVP_PKEY*) {}) : ec_;
    signing.algorithm = JwtAlgorithm::kEs384;
    signing.kid = "ec-1";
    auth::AssertionInput in;
    in.client_id = "jwt-client";
    in.audience = aud.empty() ? sandbox_->url + kTokenPath : aud;
    in.jti = jti;
    in.now_unix = now;
    return *auth::SignClientAssertion(signing, in);
  }
  HttpResponse PostAssertion(const std::string& jwt) {
    return client_->Post(kTokenPath,
                         "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams"
                         "%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + jwt,
                         kForm);
  }
  std::unique_ptr<SandboxProcess> sandbox_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(SmartAuthSandbox, ServesSmartConfiguration) {
  HttpResponse r = client_->Get("/v1/bison/.well-known/smart-configuration");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"token_endpoint\":\"" + sandbox_->url + kTokenPath + "\""),
            std::string::npos);
  EXPECT_NE(r.body.find("\"private_key_jwt\""), std::string::npos);
  EXPECT_NE(r.body.find("[\"RS384\",\"ES384\"]"), std::string::npos);
}

TEST_F(SmartAuthSandbox, RejectsAReusedJti) {
  const std::string jwt = Assertion("once", UnixNow());
  ASSERT_EQ(PostAssertion(jwt).status, 200);
  HttpResponse again = PostAssertion(jwt);
  EXPECT_EQ(again.status, 401);
  EXPECT_EQ(again.body,
            R"({"error":"invalid_client","error_description":"jti has already been used"})");
}

TEST_F(SmartAuthSandbox, RejectsAWrongAudience) {
  HttpResponse r = PostAssertion(Assertion("aud", UnixNow(), "https://elsewhere.example/token"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body,
            R"({"error":"invalid_client","error_description":"aud must be the token endpoint URL"})");
}

TEST_F(SmartAuthSandbox, RejectsAnExpiredAssertion) {
  HttpResponse r = PostAssertion(Assertion("old", UnixNow() - 3600));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body,
            R"j({"error":"invalid_client","error_description":"client_assertion has expired (exp)"})j");
}

TEST_F(SmartAuthSandbox, RejectsABadSignature) {
  std::shared_ptr<EVP_PKEY> stranger = NewKey(true);
  HttpResponse r = PostAssertion(Assertion("bad", UnixNow(), "", stranger.get()));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body,
            R"({"error":"invalid_client","error_description":"signature verification failed"})");
}

}  // namespace
}  // namespace p2p::testing
