#include "auth/smart_discovery.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <optional>

#include "auth/jwk.h"
#include "auth/token_cache.h"
#include "support/run_sync.h"
#include "support/scripted_server.h"

namespace p2p::auth {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using test::HttpResponse;
using test::ScriptedServer;
using test::Step;

using test::RunSync;

Url Base(std::string_view text) { return *Url::Parse(text); }

std::string Json(std::string body) {
  return HttpResponse(200, body, "Content-Type: application/json\r\n");
}

TEST(SmartDiscovery, ReadsTokenEndpointAndSupportedMethods) {
  Result<SmartConfiguration> c = ReadSmartConfiguration(
      R"({"token_endpoint":"https://a.example/token","token_endpoint_auth_methods_supported":)"
      R"(["private_key_jwt",7],"token_endpoint_auth_signing_alg_values_supported":["ES384"]})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->token_endpoint, "https://a.example/token");
  EXPECT_EQ(c->auth_methods, std::vector<std::string>{"private_key_jwt"});
  EXPECT_EQ(c->signing_algs, std::vector<std::string>{"ES384"});
}

TEST(SmartDiscovery, DocumentWithoutTokenEndpointIsProtocolError) {
  Result<SmartConfiguration> c = ReadSmartConfiguration(R"({"issuer":"x"})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::kProtocol);
  EXPECT_EQ(c.error().message, "smart-configuration: token_endpoint is missing");
  EXPECT_EQ(ReadSmartConfiguration("[1]").error().message,
            "smart-configuration: not a JSON object");
}

TEST(SmartDiscovery, TokenEndpointMustBeOnATrustedHost) {
  SmartConfiguration c{"https://evil.example/token", {}, {}};
  Result<Url> url = CheckTokenEndpoint(c, Base("https://fhir.example/r4"), {"fhir.example"},
                                       AuthMethod::kPrivateKeyJwt);
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.error().kind, ErrorKind::kUntrustedHost);
  EXPECT_EQ(url.error().message,
            "smart-configuration: token_endpoint host evil.example is not in trusted_hosts");
  c.token_endpoint = "https://auth.example/t";
  EXPECT_TRUE(CheckTokenEndpoint(c, Base("https://fhir.example/r4"),
                                 {"fhir.example", "auth.example"}, AuthMethod::kPrivateKeyJwt)
                  .ok());
}

TEST(SmartDiscovery, NoDowngradeToPlainHttp) {
  SmartConfiguration c{"http://fhir.example/token", {}, {}};
  Result<Url> url =
      CheckTokenEndpoint(c, Base("https://fhir.example"), {}, AuthMethod::kClientSecretPost);
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.error().message,
            "smart-configuration: token_endpoint is plain http under an https base_url");
}

TEST(SmartDiscovery, AdvertisedMethodsMustIncludeOurs) {
  SmartConfiguration c{"https://fhir.example/token", {"private_key_jwt"}, {}};
  Result<Url> url =
      CheckTokenEndpoint(c, Base("https://fhir.example"), {}, AuthMethod::kClientSecretBasic);
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.error().kind, ErrorKind::kAuth);
  EXPECT_EQ(url.error().message,
            "smart-configuration: token endpoint does not support client_secret_basic");
}

class SmartDiscoveryCache : public ::testing::Test {
 protected:
  asio::io_context io;
  http::HttpClient client{io, http::ClientOptions{}};
};

TEST_F(SmartDiscoveryCache, TokenCacheDiscoversOnceThenPostsAJwtAssertion) {
  // Discovery once; two token fetches on one keep-alive connection.
  std::string token_json =
      R"({"access_token":"t1","token_type":"Bearer","expires_in":3600})";
  // The document names the token server, which must listen first.
  ScriptedServer token_server({{Step::ReadRequest(), Step::Send(Json(token_json)),
                                Step::ReadRequest(), Step::Send(Json(token_json))}});
  auto server = std::make_unique<ScriptedServer>(std::vector<test::Script>{{
      Step::ReadRequest(),
      Step::Send(Json(R"({"token_endpoint":")" + token_server.Url("/oauth/token") +
                      R"(","token_endpoint_auth_methods_supported":["private_key_jwt"]})")),
  }});

  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  std::shared_ptr<EVP_PKEY> pkey(k, EVP_PKEY_free);
  PayerOptions payer;
  payer.base_url = server->Url("/fhir/r4");
  payer.trusted_hosts = {"127.0.0.1"};
  payer.request_timeout = milliseconds(2000);
  payer.auth.method = AuthMethod::kPrivateKeyJwt;
  payer.auth.client_id = "c1";
  payer.auth.scope = "system/*.read";
  payer.auth.private_key = *KeyToJwk(pkey.get(), "e1", JwtAlgorithm::kFromKey, true);

  TokenCache cache(client, payer);
  Result<std::string> first = RunSync(io, cache.Get());
  ASSERT_TRUE(first.ok()) << first.error().message;
  cache.Invalidate(*first);
  Result<std::string> second = RunSync(io, cache.Get());
  ASSERT_TRUE(second.ok()) << second.error().message;

  auto discovery = server->requests();
  ASSERT_EQ(discovery.size(), 1u);
  EXPECT_EQ(discovery[0].method, "GET");
  EXPECT_EQ(discovery[0].target, "/fhir/r4/.well-known/smart-configuration");
  auto posts = token_server.requests();
  ASSERT_EQ(posts.size(), 2u);
  const std::string prefix =
      "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
      "client-assertion-type%3Ajwt-bearer&client_assertion=";
  for (const auto& post : posts) {
    EXPECT_EQ(post.target, "/oauth/token");
    EXPECT_EQ(post.Header("authorization"), "");
    EXPECT_EQ(post.body.rfind(prefix, 0), 0u) << post.body;
    EXPECT_NE(post.body.find("&scope=system%2F%2A.read"), std::string::npos) << post.body;
  }
  EXPECT_NE(posts[0].body, posts[1].body);  // a new jti (and signature) each time
}

TEST_F(SmartDiscoveryCache, UnusableKeyIsInvalidWithoutKeyMaterial) {
  ScriptedServer server({});
  AuthOptions auth;
  auth.method = AuthMethod::kPrivateKeyJwt;
  auth.token_url = server.Url("/token");
  auth.client_id = "c1";
  auth.private_key = "-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n";
  TokenCache cache(client, auth, milliseconds(500));
  Result<std::string> token = RunSync(io, cache.Get());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(token.error().message,
            "private key: not a PEM private key (encrypted keys are not supported)");
  EXPECT_EQ(server.connections(), 0);
}

TEST_F(SmartDiscoveryCache, NoTokenUrlAndNoBaseUrlIsInvalid) {
  AuthOptions auth;
  auth.method = AuthMethod::kClientSecretPost;
  auth.client_id = "c1";
  auth.client_secret = "s";
  TokenCache cache(client, auth, milliseconds(500));
  Result<std::string> token = RunSync(io, cache.Get());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().message,
            "smart-configuration: no token_url and no base_url to discover it from");
}

}  // namespace
}  // namespace p2p::auth
