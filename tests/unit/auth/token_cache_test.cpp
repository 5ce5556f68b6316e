#include "auth/token_cache.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <optional>

#include "support/run_sync.h"
#include "support/scripted_server.h"

namespace p2p::auth {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;
using test::HttpResponse;
using test::ScriptedServer;
using test::Step;

using test::RunSync;

std::string TokenJson(const std::string& token, int expires_in) {
  return HttpResponse(
      200,
      "{\"access_token\":\"" + token +
          "\",\"token_type\":\"Bearer\",\"expires_in\":" + std::to_string(expires_in) + "}",
      "Content-Type: application/json\r\n");
}

constexpr char kSecret[] = "s3cr&t=";

class TokenCacheTest : public ::testing::Test {
 protected:
  AuthOptions Options(const ScriptedServer& server, AuthMethod method) {
    AuthOptions a;
    a.method = method;
    a.token_url = server.Url("/oauth/token?tenant=1");
    a.client_id = "my client";
    a.client_secret = kSecret;
    a.scope = "member-match|read";
    return a;
  }
  TokenCache::Clock FakeClock() {
    return [this] { return std::chrono::steady_clock::time_point() + fake_now; };
  }

  asio::io_context io;
  http::HttpClient client{io, http::ClientOptions{}};
  milliseconds fake_now{1000000};
};

TEST_F(TokenCacheTest, ClientSecretPostSendsCredentialsInTheForm) {
  ScriptedServer server({{Step::ReadRequest(), Step::Send(TokenJson("tok1", 3600))}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretPost);
  TokenCache cache(client, auth, milliseconds(2000));
  Result<std::string> token = RunSync(io, cache.Get());
  ASSERT_TRUE(token.ok()) << token.error().message;
  EXPECT_EQ(*token, "tok1");
  auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/oauth/token?tenant=1");
  EXPECT_EQ(got[0].Header("accept"), "application/json");
  EXPECT_EQ(got[0].Header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(got[0].Header("authorization"), "");
  EXPECT_EQ(got[0].body,
            "grant_type=client_credentials&client_id=my+client&client_secret=s3cr%26t%3D"
            "&scope=member-match%7Cread");
}

TEST_F(TokenCacheTest, ClientSecretBasicSendsCredentialsInTheHeaderOnly) {
  ScriptedServer server({{Step::ReadRequest(), Step::Send(TokenJson("tok1", 3600))}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretBasic);
  TokenCache cache(client, auth, milliseconds(2000));
  ASSERT_TRUE(RunSync(io, cache.Get()).ok());
  auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  // base64("my+client:s3cr%26t%3D")
  EXPECT_EQ(got[0].Header("authorization"), "Basic bXkrY2xpZW50OnMzY3IlMjZ0JTNE");
  EXPECT_EQ(got[0].Header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(got[0].body, "grant_type=client_credentials&scope=member-match%7Cread");
}

TEST_F(TokenCacheTest, CachesUntilTenPercentOrSixtySecondsBeforeExpiry) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(TokenJson("tok1", 3600)), Step::ReadRequest(),
        Step::Send(TokenJson("tok2", 3600)), Step::WaitClose()}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretPost);
  TokenCache cache(client, auth, milliseconds(2000), FakeClock());
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok1");
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok1");
  EXPECT_EQ(cache.fetches(), 1);
  fake_now += seconds(3240) - milliseconds(1);  // min(3600 * 0.9, 3600 - 60) = 3240 s
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok1");
  fake_now += milliseconds(1);
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok2");
  EXPECT_EQ(cache.fetches(), 2);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(TokenCacheTest, TinyExpiresInIsCachedForOneSecond) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(TokenJson("tok1", 1)), Step::ReadRequest(),
        Step::Send(TokenJson("tok2", 1)), Step::WaitClose()}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretPost);
  TokenCache cache(client, auth, milliseconds(2000), FakeClock());
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok1");
  fake_now += milliseconds(999);
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok1");
  fake_now += milliseconds(1);
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok2");
}

TEST_F(TokenCacheTest, InvalidateDropsOnlyTheCurrentToken) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(TokenJson("tok1", 3600)), Step::ReadRequest(),
        Step::Send(TokenJson("tok2", 3600)), Step::WaitClose()}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretPost);
  TokenCache cache(client, auth, milliseconds(2000));
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok1");
  cache.Invalidate("an-older-token");
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok1");
  cache.Invalidate("tok1");
  EXPECT_EQ(*RunSync(io, cache.Get()), "tok2");
  EXPECT_EQ(cache.fetches(), 2);
}

TEST_F(TokenCacheTest, ConcurrentGetsShareOneFetch) {
  ScriptedServer server({{Step::ReadRequest(), Step::Delay(milliseconds(20)),
                          Step::Send(TokenJson("tok1", 3600)), Step::WaitClose()}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretPost);
  TokenCache cache(client, auth, milliseconds(2000));
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          Result<std::string> t = co_await cache.Get();
          tokens.push_back(t.ok() ? *t : t.error().message);
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(tokens, std::vector<std::string>(5, "tok1"));
  EXPECT_EQ(cache.fetches(), 1);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(TokenCacheTest, ConcurrentGetsShareOneFailure) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(503, "down")), Step::WaitClose()}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretPost);
  TokenCache cache(client, auth, milliseconds(2000));
  std::vector<std::string> messages;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          Result<std::string> t = co_await cache.Get();
          messages.push_back(t.ok() ? *t : t.error().message);
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(messages, std::vector<std::string>(3, "token endpoint: 503"));
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(TokenCacheTest, UnauthorizedIsAuthErrorWithOAuthCode) {
  ScriptedServer server(
      {{Step::ReadRequest(),
        Step::Send(HttpResponse(401, "{\"error\":\"invalid_client\",\"error_description\":\"bad " +
                                         std::string(kSecret) + "\"}"))}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretBasic);
  TokenCache cache(client, auth, milliseconds(2000));
  Result<std::string> token = RunSync(io, cache.Get());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().kind, ErrorKind::kAuth);
  EXPECT_EQ(token.error().http_status, 401);
  EXPECT_EQ(token.error().message, "token endpoint: 401 invalid_client");
  EXPECT_EQ(cache.fetches(), 0);
}

TEST_F(TokenCacheTest, BadRequestWithoutReadableCodeIsAuthError) {
  ScriptedServer server({{Step::ReadRequest(), Step::Send(HttpResponse(400, "<html>no</html>"))}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretPost);
  TokenCache cache(client, auth, milliseconds(2000));
  Result<std::string> token = RunSync(io, cache.Get());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().kind, ErrorKind::kAuth);
  EXPECT_EQ(token.error().message, "token endpoint: 400");
}

TEST_F(TokenCacheTest, ServerErrorsAreRetryableHttpStatus) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(503, "")), Step::ReadRequest(),
        Step::Send(HttpResponse(429, "", "Retry-After: 3\r\n")), Step::WaitClose()}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretPost);
  TokenCache cache(client, auth, milliseconds(2000));
  Result<std::string> first = RunSync(io, cache.Get());
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().kind, ErrorKind::kHttpStatus);
  EXPECT_EQ(first.error().http_status, 503);
  EXPECT_EQ(first.error().message, "token endpoint: 503");
  Result<std::string> second = RunSync(io, cache.Get());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ErrorKind::kHttpStatus);
  EXPECT_EQ(second.error().message, "token endpoint: 429");
}

TEST_F(TokenCacheTest, UnreachableEndpointIsNetworkError) {
  uint16_t port;
  {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  AuthOptions auth;
  auth.token_url = "http://127.0.0.1:" + std::to_string(port) + "/oauth/token";
  auth.client_id = "id";
  auth.client_secret = kSecret;
  TokenCache cache(client, auth, milliseconds(2000));
  Result<std::string> token = RunSync(io, cache.Get());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().kind, ErrorKind::kNetwork);
  EXPECT_EQ(token.error().message,
            "token endpoint: POST /oauth/token: connect failed: Connection refused");
}

TEST_F(TokenCacheTest, MalformedTokenAnswerIsNamedWithoutTheBody) {
  ScriptedServer server(
      {{Step::ReadRequest(), Step::Send(HttpResponse(200, "{\"token_type\":\"Bearer\"}"))}});
  AuthOptions auth = Options(server, AuthMethod::kClientSecretPost);
  TokenCache cache(client, auth, milliseconds(2000));
  Result<std::string> token = RunSync(io, cache.Get());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().kind, ErrorKind::kProtocol);
  EXPECT_EQ(token.error().message.rfind("token endpoint: token response", 0), 0u)
      << token.error().message;
  EXPECT_EQ(token.error().message.find(kSecret), std::string::npos);
}

}  // namespace
}  // namespace p2p::auth
