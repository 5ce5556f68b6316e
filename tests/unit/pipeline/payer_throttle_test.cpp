// PayerClient against a scripted server: a 429 storm lowers the payer's request rate and
// successes bring it back; absurd Retry-After values are clamped to retry.max_delay; token
// endpoint failures come back as kAuth (the job waits, see JobRunner).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>

#include "pipeline/payer_client.h"
#include "support/run_sync.h"
#include "support/scripted_server.h"

namespace p2p::pipeline {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using test::HttpResponse;
using test::ScriptedServer;
using test::Step;

using test::RunSync;

PayerOptions Payer(const std::string& base) {
  PayerOptions p;
  p.id = "bison";
  p.base_url = base;
  p.auth.token_url = base + "/token";
  p.auth.client_id = "c";
  p.auth.client_secret = "s";
  p.trusted_hosts = {"127.0.0.1"};
  p.limits.requests_per_second = 100;
  p.retry.max_attempts = 5;
  p.retry.base_delay = milliseconds(1);
  p.retry.max_delay = milliseconds(50);  // floor: 20 requests per second
  p.request_timeout = milliseconds(2000);
  return p;
}

http::Request Get(const ScriptedServer& server) {
  http::Request r;
  r.url = Url::Parse(server.Url("/x")).value();
  return r;
}

TEST(PayerThrottle, A429StormLowersTheRateWhichSuccessesBringBack) {
  test::Script script;
  for (int i = 0; i < 3; ++i) {
    script.push_back(Step::ReadRequest());
    // Retry-After 1 s, clamped to max_delay (50 ms): each 429 comes a full interval later.
    script.push_back(Step::Send(HttpResponse(429, "", "Retry-After: 1\r\n")));
  }
  for (int i = 0; i < 12; ++i) {
    script.push_back(Step::ReadRequest());
    script.push_back(Step::Send(HttpResponse(200, "ok")));
  }
  ScriptedServer server({script});
  asio::io_context io;
  http::HttpClient http(io, http::ClientOptions{});
  Metrics metrics;
  const PayerOptions options = Payer(server.Url(""));
  PayerClient payer(http, options, [] { return 0.0; }, metrics);

  auto first = RunSync(io, payer.Send(Get(server), 1024, false, "poll"));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->status, 200);
  // Three cuts (100 -> 50 -> 25 -> floor 20), then one success.
  EXPECT_DOUBLE_EQ(payer.current_rate(), 25.0);
  std::vector<double> rates;
  for (int i = 0; i < 11; ++i) {
    auto r = RunSync(io, payer.Send(Get(server), 1024, false, "poll"));
    ASSERT_TRUE(r) << r.error().message;
    rates.push_back(payer.current_rate());
  }
  EXPECT_LT(rates.front(), 100.0);
  EXPECT_DOUBLE_EQ(rates.back(), 100.0);
  EXPECT_EQ(server.requests().size(), 15u);
}

TEST(PayerThrottle, AbsurdRetryAfterIsClampedToMaxDelay) {
  const char* absurd[] = {"Fri, 01 Jan 2100 00:00:00 GMT", "4102444800", "4102444800000",
                          "99999999"};
  test::Script script;
  for (const char* value : absurd) {
    script.push_back(Step::ReadRequest());
    script.push_back(
        Step::Send(HttpResponse(503, "", std::string("Retry-After: ") + value + "\r\n")));
  }
  script.push_back(Step::ReadRequest());
  script.push_back(Step::Send(HttpResponse(200, "ok")));
  ScriptedServer server({script});
  asio::io_context io;
  http::HttpClient http(io, http::ClientOptions{});
  Metrics metrics;
  const PayerOptions options = Payer(server.Url(""));
  PayerClient payer(http, options, [] { return 0.0; }, metrics);
  const auto start = std::chrono::steady_clock::now();
  auto r = RunSync(io, payer.Send(Get(server), 1024, false, "poll"));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(took, milliseconds(4 * 50));  // each wait is max_delay...
  EXPECT_LT(took, milliseconds(2000));     // ...not years
}

TEST(PayerThrottle, ATokenEndpointThatIsDownIsAnAuthErrorForTheCallerToWaitOut) {
  test::Script script;
  for (int i = 0; i < 5; ++i) {
    script.push_back(Step::ReadRequest());
    script.push_back(Step::Send(HttpResponse(503, "down")));
  }
  ScriptedServer server({script});
  asio::io_context io;
  http::HttpClient http(io, http::ClientOptions{});
  Metrics metrics;
  const PayerOptions options = Payer(server.Url(""));
  PayerClient payer(http, options, [] { return 0.0; }, metrics);
  auto r = RunSync(io, payer.Send(Get(server), 1024, true, "poll"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kAuth);
  EXPECT_EQ(r.error().message, "GET /x: token endpoint: 503 after 5 attempts");
  for (const auto& req : server.requests()) EXPECT_EQ(req.target, "/token");
}

}  // namespace
}  // namespace p2p::pipeline
