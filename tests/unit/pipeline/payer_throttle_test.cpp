// PayerClient against a scripted server: a 429 (or a 503 with Retry-After) throttles the payer
// without counting an attempt; its requests are held back until it is due, then exactly one
// probes; token endpoint failures come back as kAuth (the job waits, see JobRunner), and
// credentials the token endpoint rejects mark the payer until a reload.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <thread>

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
  p.limits.max_throttle_wait = milliseconds(300);  // every throttle wait clamps to this
  return p;
}

http::Request Get(const ScriptedServer& server) {
  http::Request r;
  r.url = Url::Parse(server.Url("/x")).value();
  return r;
}

TEST(PayerThrottle, A429ThrottlesThePayerAtOnceWithoutCountingAnAttempt) {
  test::Script script;
  script.push_back(Step::ReadRequest());
  script.push_back(Step::Send(HttpResponse(429, "", "Retry-After: 1\r\n")));
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

  const auto start = std::chrono::system_clock::now();
  auto first = RunSync(io, payer.Send(Get(server), 1024, false, "poll"));
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().kind, ErrorKind::kThrottled);
  EXPECT_EQ(first.error().http_status, 429);
  EXPECT_EQ(first.error().message, "GET /x: HTTP 429: payer throttled");
  EXPECT_EQ(payer.counters().retries, 0);
  // Retry-After 1 s, clamped to max_throttle_wait (300 ms).
  const int64_t start_ms =
      std::chrono::duration_cast<milliseconds>(start.time_since_epoch()).count();
  EXPECT_GE(payer.throttled_until_ms(), start_ms + 300);
  EXPECT_LT(payer.throttled_until_ms(), start_ms + 1000);
  EXPECT_LT(payer.current_rate(), 100.0);  // the request rate is lowered too

  // Held back without a request while the payer is not due.
  auto held = RunSync(io, payer.Send(Get(server), 1024, false, "poll"));
  ASSERT_FALSE(held);
  EXPECT_EQ(held.error().kind, ErrorKind::kThrottled);
  EXPECT_EQ(held.error().http_status, 0);
  EXPECT_EQ(server.requests().size(), 1u);

  std::this_thread::sleep_until(std::chrono::system_clock::time_point(
      milliseconds(payer.throttled_until_ms())));
  auto probe = RunSync(io, payer.Send(Get(server), 1024, false, "poll"));
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ(payer.throttled_until_ms(), 0);
  std::vector<double> rates;
  for (int i = 0; i < 11; ++i) {
    auto r = RunSync(io, payer.Send(Get(server), 1024, false, "poll"));
    ASSERT_TRUE(r) << r.error().message;
    rates.push_back(payer.current_rate());
  }
  EXPECT_DOUBLE_EQ(rates.back(), 100.0);  // successes bring the rate back
  EXPECT_EQ(server.requests().size(), 13u);
}

TEST(PayerThrottle, A503WithRetryAfterThrottlesAndOneWithoutIsRetried) {
  test::Script script;
  script.push_back(Step::ReadRequest());
  script.push_back(Step::Send(HttpResponse(503, "")));  // no Retry-After: an outage, retried
  script.push_back(Step::ReadRequest());
  script.push_back(Step::Send(HttpResponse(503, "", "Retry-After: 4102444800000\r\n")));
  ScriptedServer server({script});
  asio::io_context io;
  http::HttpClient http(io, http::ClientOptions{});
  Metrics metrics;
  const PayerOptions options = Payer(server.Url(""));
  PayerClient payer(http, options, [] { return 0.0; }, metrics);
  auto r = RunSync(io, payer.Send(Get(server), 1024, false, "poll"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kThrottled);
  EXPECT_EQ(r.error().http_status, 503);
  EXPECT_EQ(payer.counters().retries, 1);  // the first 503 only
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(PayerThrottle, WhenTheWaitEndsOneRequestProbesAndTheOthersWaitForIt) {
  test::Script script;
  script.push_back(Step::ReadRequest());
  script.push_back(Step::Send(HttpResponse(429, "", "Retry-After: 0\r\n")));
  script.push_back(Step::ReadRequest());
  script.push_back(Step::Delay(milliseconds(200)));  // the probe is slow to answer
  script.push_back(Step::Send(HttpResponse(200, "ok")));
  ScriptedServer server({script});
  asio::io_context io;
  http::HttpClient http(io, http::ClientOptions{});
  Metrics metrics;
  PayerOptions options = Payer(server.Url(""));
  PayerClient payer(http, options, [] { return 0.0; }, metrics);
  int changes = 0;
  payer.SetOnChange([&] { ++changes; });
  ASSERT_FALSE(RunSync(io, payer.Send(Get(server), 1024, false, "poll")));
  EXPECT_EQ(changes, 1);
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(
      milliseconds(payer.throttled_until_ms())));
  std::optional<Result<http::Response>> probe, other;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    probe = co_await payer.Send(Get(server), 1024, false, "poll");
  }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    other = co_await payer.Send(Get(server), 1024, false, "poll");
  }, asio::detached);
  io.restart();
  io.run();
  ASSERT_TRUE(probe && other);
  ASSERT_TRUE(*probe) << probe->error().message;
  ASSERT_FALSE(*other);
  EXPECT_EQ(other->error().kind, ErrorKind::kThrottled);
  EXPECT_EQ(server.requests().size(), 2u);  // one probe, no second request
  EXPECT_EQ(payer.throttled_until_ms(), 0);
  EXPECT_EQ(changes, 2);  // throttled, recovered
}

TEST(PayerThrottle, RejectedCredentialsMarkThePayerUntilAReload) {
  test::Script script;
  script.push_back(Step::ReadRequest());
  script.push_back(Step::Send(HttpResponse(
      401, R"({"error":"invalid_client","error_description":"Client authentication failed"})")));
  script.push_back(Step::ReadRequest());  // after the reload
  script.push_back(Step::Send(HttpResponse(200, R"({"access_token":"t","expires_in":3600})")));
  script.push_back(Step::ReadRequest());
  script.push_back(Step::Send(HttpResponse(200, "ok")));
  ScriptedServer server({script});
  asio::io_context io;
  http::HttpClient http(io, http::ClientOptions{});
  Metrics metrics;
  PayerOptions options = Payer(server.Url(""));
  PayerClient payer(http, options, [] { return 0.0; }, metrics);
  auto r = RunSync(io, payer.Send(Get(server), 1024, true, "poll"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kAuth);
  EXPECT_TRUE(payer.auth_rejected());
  EXPECT_EQ(payer.auth_error(), "invalid_client");
  EXPECT_EQ(metrics.GetGauge(metric::kPayerAuthRejected, {{"payer", "bison"}}).value(), 1.0);
  // Until a reload, requests do not ask the token endpoint again.
  auto again = RunSync(io, payer.Send(Get(server), 1024, true, "poll"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kAuth);
  EXPECT_EQ(server.requests().size(), 1u);
  payer.Reconfigure();
  auto fixed = RunSync(io, payer.Send(Get(server), 1024, true, "poll"));
  ASSERT_TRUE(fixed) << fixed.error().message;
  EXPECT_FALSE(payer.auth_rejected());
  EXPECT_EQ(metrics.GetGauge(metric::kPayerAuthRejected, {{"payer", "bison"}}).value(), 0.0);
  EXPECT_EQ(server.requests().size(), 3u);
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
