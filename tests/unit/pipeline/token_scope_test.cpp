// Where a bearer token may go: only to the payer's trusted_hosts, only in the
// Authorization header (never in a query string), and never across a redirect: a 3xx answer is
// returned to the caller, its Location is not fetched. Scripted servers on 127.0.0.1 record
// exactly what arrived; "localhost" (also loopback) plays the untrusted host.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <optional>

#include "pipeline/payer_client.h"
#include "support/run_sync.h"
#include "support/scripted_server.h"

namespace p2p::pipeline {
namespace {

namespace asio = boost::asio;
using test::HttpResponse;
using test::ScriptedServer;
using test::Step;

constexpr char kToken[] = "tok-5ecret-b34rer";
constexpr char kClientSecret[] = "client-5ecret-value";

using test::RunSync;

std::string TokenAnswer() {
  return HttpResponse(200,
                      std::string(R"({"access_token":")") + kToken +
                          R"(","token_type":"Bearer","expires_in":3600})",
                      "Content-Type: application/json\r\n");
}

// "http://127.0.0.1:P/x" -> "http://localhost:P/x"
std::string OnLocalhost(std::string url) {
  return url.replace(url.find("127.0.0.1"), 9, "localhost");
}

// A payer whose token endpoint is `token` and whose only trusted host is 127.0.0.1.
class TokenScope : public ::testing::Test {
 protected:
  void MakeClient(const std::string& base_url) {
    options.id = "bison";
    options.base_url = base_url;
    options.auth.token_url = token.Url("/token");
    options.auth.client_id = "client-id";
    options.auth.client_secret = kClientSecret;
    options.trusted_hosts = {"127.0.0.1"};
    options.retry.max_attempts = 1;
    options.limits.requests_per_second = 1000;
    client.emplace(
        http, options, [] { return 0.5; }, metrics);
  }

  Result<http::Response> Send(const std::string& url, bool with_token = true) {
    http::Request r;
    r.url = Url::Parse(url).value();
    return RunSync(io, client->Send(std::move(r), 64 * 1024, with_token, "export"));
  }

  ScriptedServer token{{{Step::ReadRequest(), Step::Send(TokenAnswer()), Step::WaitClose()}}};
  asio::io_context io;
  http::HttpClient http{io, http::ClientOptions{}};
  Metrics metrics;
  PayerOptions options;
  std::optional<PayerClient> client;
};

TEST_F(TokenScope, BearerTravelsInTheAuthorizationHeaderOnly) {
  ScriptedServer resource(
      {{Step::ReadRequest(), Step::Send(HttpResponse(200, "{}")), Step::WaitClose()}});
  MakeClient(resource.Url("/v1/bison"));
  Result<http::Response> res = Send(resource.Url("/v1/bison/Group/g1/$export?_since=2026-01-01"));
  ASSERT_TRUE(res.ok()) << res.error().message;
  ASSERT_EQ(res->status, 200);

  std::vector<test::RecordedRequest> got = resource.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/v1/bison/Group/g1/$export?_since=2026-01-01");
  EXPECT_EQ(got[0].Header("authorization"), std::string("Bearer ") + kToken);
  for (const auto& [name, value] : got[0].headers) {
    if (name != "authorization") {
      EXPECT_EQ(value.find(kToken), std::string::npos) << name;
    }
  }
  EXPECT_EQ(got[0].body.find(kToken), std::string::npos);

  // The client secret goes in the token request's form body, never in its URL.
  std::vector<test::RecordedRequest> token_requests = token.requests();
  ASSERT_EQ(token_requests.size(), 1u);
  EXPECT_EQ(token_requests[0].method, "POST");
  EXPECT_EQ(token_requests[0].target, "/token");
  EXPECT_NE(token_requests[0].body.find(std::string("client_secret=") + kClientSecret),
            std::string::npos);
}

TEST_F(TokenScope, UntrustedHostGetsNothingNotEvenAConnection) {
  ScriptedServer elsewhere({{Step::ReadRequest(), Step::Send(HttpResponse(200, "{}"))}});
  MakeClient(token.Url("/v1/bison"));
  Result<http::Response> res = Send(OnLocalhost(elsewhere.Url("/files/Patient.ndjson")));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kUntrustedHost);
  EXPECT_EQ(res.error().message,
            "GET /files/Patient.ndjson: host localhost is not in trusted_hosts of payer bison; "
            "the token is not sent");
  EXPECT_EQ(elsewhere.connections(), 0);
  EXPECT_TRUE(token.requests().empty());  // not even fetched
}

TEST_F(TokenScope, RedirectToAnotherHostIsReturnedNotFollowed) {
  ScriptedServer elsewhere({{Step::ReadRequest(), Step::Send(HttpResponse(200, "{}"))}});
  const std::string location = OnLocalhost(elsewhere.Url("/steal"));
  ScriptedServer resource(
      {{Step::ReadRequest(), Step::Send(HttpResponse(302, "", "Location: " + location + "\r\n")),
        Step::WaitClose()}});
  MakeClient(resource.Url("/v1/bison"));
  Result<http::Response> res = Send(resource.Url("/v1/bison/Group/g1/$export"));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 302);
  EXPECT_EQ(res->Get("location"), location);
  EXPECT_EQ(resource.requests().size(), 1u);
  EXPECT_EQ(elsewhere.connections(), 0);
}

TEST_F(TokenScope, RedirectWithinTheTrustedHostIsNotFollowedEither) {
  ScriptedServer resource(
      {{Step::ReadRequest(), Step::Send(HttpResponse(307, "", "Location: /v1/bison/elsewhere\r\n")),
        Step::WaitClose()}});
  MakeClient(resource.Url("/v1/bison"));
  Result<http::Response> res = Send(resource.Url("/v1/bison/Group/g1/$export"));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 307);
  EXPECT_EQ(resource.requests().size(), 1u);
}

TEST_F(TokenScope, StreamedDownloadToAnUntrustedHostIsRefused) {
  ScriptedServer elsewhere({{Step::ReadRequest(), Step::Send(HttpResponse(200, "{}"))}});
  MakeClient(token.Url("/v1/bison"));
  struct NullSink : http::BodySink {
    Result<void> OnData(std::string_view) override { return Ok(); }
  } sink;
  http::Request r;
  r.url = Url::Parse(OnLocalhost(elsewhere.Url("/files/1.ndjson"))).value();
  Result<http::Response> res =
      RunSync(io, client->StreamOnce(std::move(r), sink, /*with_token=*/true, "file"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kUntrustedHost);
  EXPECT_EQ(elsewhere.connections(), 0);
}

}  // namespace
}  // namespace p2p::pipeline
