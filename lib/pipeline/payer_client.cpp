#include "pipeline/payer_client.h"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "pipeline/step_util.h"

namespace p2p::pipeline {

namespace asio = boost::asio;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}


bool IsRetryableError(ErrorKind k) {
  return k == ErrorKind::kNetwork || k == ErrorKind::kTimeout || k == ErrorKind::kTruncated;
}

// Token fetch failures worth retrying: the endpoint unreachable, slow, throttling or failing.
bool IsRetryableToken(const Error& e) {
  if (IsRetryableError(e.kind)) return true;
  return e.kind == ErrorKind::kHttpStatus &&
         ClassifyHttpStatus(e.http_status) == FailureClass::kRetryable;
}

}  // namespace

std::string DescribeRequest(const http::Request& request) {
  return request.method + " " + std::string(request.url.Path());
}

PayerClient::PayerClient(http::HttpClient& http, const PayerOptions& options,
                         std::function<double()> jitter01, Metrics& metrics)
    : http_(http),
      options_(options),
      jitter_(std::move(jitter01)),
      tokens_(http, options),
      limiter_(options.limits.requests_per_second),
      retry_(options.retry.max_attempts, options.retry.base_delay, options.retry.max_delay),
      metrics_(metrics),
      throttle_(options.limits.max_throttle_wait, options.retry.base_delay) {
  ApplyTls();
}

void UsePayerTls(http::HttpClient& http, const PayerOptions& payer) {
  const PayerTlsOptions& t = payer.tls;
  if (t == PayerTlsOptions{}) return;  // the client's default context (system store)
  const http::TlsOptions tls{t.ca_file, t.client_cert, t.client_key};
  std::vector<std::string> hosts = payer.trusted_hosts;
  for (const std::string* url : {&payer.base_url, &payer.auth.token_url}) {
    if (Result<Url> u = Url::Parse(*url)) hosts.push_back(u->host);
  }
  for (const std::string& host : hosts) (void)http.UseTls(host, tls);
}

// A failure stays attached to the host (every request to it fails with the message); the daemon
// checks the files before it starts, so this is only reached after a file changed.
void PayerClient::ApplyTls() { UsePayerTls(http_, options_); }

void PayerClient::Observe(std::string_view endpoint, const Result<http::Response>& r,
                          std::chrono::steady_clock::time_point start) {
  char code[8] = "error";
  if (r) std::snprintf(code, sizeof code, "%d", r->status);
  metrics_.GetCounter(metric::kHttpRequests, {{"payer", options_.id}, {"endpoint", endpoint}, {"code", code}})
      .Inc();
  metrics_.GetHistogram(metric::kHttpDuration, {{"payer", options_.id}, {"endpoint", endpoint}})
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void PayerClient::AdaptRate(int status) {
  if (status == 429) {
    if (limiter_.Throttled(options_.retry.max_delay)) {
      // Debug: the throttled state has its own two lines (becomes throttled, recovers).
      spdlog::debug("payer {}: 429: request rate lowered to {:.3g}/s", options_.id,
                    limiter_.rate());
    }
  } else if (status >= 200 && status < 300) {
    if (limiter_.Succeeded() && limiter_.rate() >= limiter_.configured_rate()) {
      spdlog::debug("payer {}: request rate back to {:.3g}/s", options_.id, limiter_.rate());
    }
  }
}

namespace {

constexpr int64_t kAuthLogEveryMs = 10 * 60 * 1000;

// The OAuth error code of a token endpoint refusal: TokenCache words it
// "token endpoint: <status>[ <code>]".
std::string_view OAuthCode(std::string_view message) {
  constexpr std::string_view kPrefix = "token endpoint: ";
  const size_t at = message.find(kPrefix);
  if (at == std::string_view::npos) return {};
  message.remove_prefix(at + kPrefix.size());
  const size_t sp = message.find(' ');
  return sp == std::string_view::npos ? std::string_view{} : message.substr(sp + 1);
}

// The token endpoint itself answering 429 throttles the payer (TokenCache keeps no Retry-After:
// the wait doubles from retry.base_delay); other token failures come back as they are.
bool TokenThrottles(const Error& e) {
  return e.kind == ErrorKind::kHttpStatus && e.http_status == 429;
}

// 400/401 from the token endpoint: our credentials (client id, secret or key, scope) are wrong.
bool RejectsCredentials(const Error& e) {
  return e.kind == ErrorKind::kAuth && (e.http_status == 400 || e.http_status == 401);
}

}  // namespace

void PayerClient::MarkAuthRejected(const Error& e) {
  const int64_t now = NowMs();
  auth_next_try_ms_ = now + options_.retry.max_delay.count();
  std::string code(OAuthCode(e.message));
  if (code.empty()) code = "HTTP " + std::to_string(e.http_status);
  const bool newly = !auth_rejected_;
  auth_rejected_ = true;
  auth_error_ = code;
  if (newly || now - auth_logged_ms_ >= kAuthLogEveryMs) {
    auth_logged_ms_ = now;
    spdlog::error("payer {}: the token endpoint rejects our credentials ({}); jobs wait: check "
                  "the payer's auth settings (client id, secret or key, scope) and reload (SIGHUP)",
                  options_.id, code);
  }
  if (newly) {
    metrics_.GetGauge(metric::kPayerAuthRejected, {{"payer", options_.id}}).Set(1);
    if (on_change_) on_change_();
  }
}

Error PayerClient::TokenFailure(Error e) {
  if (RejectsCredentials(e)) {
    MarkAuthRejected(e);
    e.kind = ErrorKind::kAuth;
    return e;
  }
  if (!token_down_) {
    token_down_ = true;
    spdlog::warn("payer {}: token endpoint failing; jobs wait and retry: {}", options_.id,
                 e.message);
  }
  e.kind = ErrorKind::kAuth;
  return e;
}

void PayerClient::TokenOk() {
  if (token_down_) {
    token_down_ = false;
    spdlog::info("payer {}: token endpoint answering again", options_.id);
  }
  if (auth_rejected_) {
    auth_rejected_ = false;
    auth_error_.clear();
    metrics_.GetGauge(metric::kPayerAuthRejected, {{"payer", options_.id}}).Set(0);
    spdlog::info("payer {}: the token endpoint accepts our credentials again", options_.id);
  }
}

void PayerClient::ShareRate(int64_t instances) {
  instances = std::max<int64_t>(1, instances);
  if (instances == rate_share_) return;
  rate_share_ = instances;
  limiter_.SetRate(options_.limits.requests_per_second / static_cast<double>(rate_share_));
}

void PayerClient::Reconfigure() {
  limiter_.SetRate(options_.limits.requests_per_second / static_cast<double>(rate_share_));
  retry_ = RetryPolicy(options_.retry.max_attempts, options_.retry.base_delay,
                       options_.retry.max_delay);
  throttle_.Configure(options_.limits.max_throttle_wait, options_.retry.base_delay);
  // Perhaps corrected credentials: the next request tries them at once.
  auth_next_try_ms_ = 0;
}

void PayerClient::SetThrottleGauge() {
  const int64_t until = throttle_.until_ms();
  const int64_t left = until == 0 ? 0 : std::max<int64_t>(0, until - NowMs());
  metrics_.GetGauge(metric::kPayerThrottled, {{"payer", options_.id}})
      .Set(static_cast<double>(left) / 1000.0);
}

Error PayerClient::HeldBack(const http::Request& request) const {
  return MakeError(ErrorKind::kThrottled,
                   DescribeRequest(request) + ": not sent: payer " + options_.id +
                       " is throttled for another " +
                       std::to_string(std::max<int64_t>(0, throttle_.until_ms() - NowMs()) / 1000) +
                       " s");
}

Error PayerClient::Throttled(const http::Request& request, int status) const {
  return MakeError(ErrorKind::kThrottled,
                   DescribeRequest(request) + ": HTTP " + std::to_string(status) +
                       ": payer throttled",
                   status);
}

bool PayerClient::AfterAttempt(bool probe, int status, std::string_view retry_after) {
  const bool throttling = status == 429 || (status == 503 && !retry_after.empty());
  if (!throttling) {
    if (throttle_.OnOther(probe)) {
      spdlog::info("payer {}: no longer throttled; requests resume", options_.id);
      SetThrottleGauge();
      if (on_change_) on_change_();
    } else if (probe) {
      if (on_change_) on_change_();  // the probe had no answer: the next request probes again
    }
    return false;
  }
  const int64_t now = NowMs();
  std::optional<Millis> wait;
  if (!retry_after.empty()) wait = ThrottleDelay(retry_after, now, options_.limits.max_throttle_wait);
  if (throttle_.OnThrottled(now, wait, probe)) {
    spdlog::warn("payer {}: throttled (HTTP {}{}); its requests wait {} ms, then one probes",
                 options_.id, status, retry_after.empty() ? "" : ", Retry-After given",
                 throttle_.until_ms() - now);
  }
  SetThrottleGauge();
  if (on_change_) on_change_();
  return true;
}

bool PayerClient::IsTrusted(const Url& url) const {
  for (const std::string& h : options_.trusted_hosts) {
    if (h.size() == url.host.size() &&
        std::equal(h.begin(), h.end(), url.host.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return true;
    }
  }
  return false;
}

Millis PayerClient::BackoffDelay(int attempt, const http::Response* answer) const {
  std::optional<Millis> retry_after;
  if (answer != nullptr) {
    std::string_view ra = answer->Get("retry-after");
    if (!ra.empty()) retry_after = ParseRetryAfter(ra, NowUnix());
  }
  // Next() refuses past max_attempts; the step decides that itself, so ask for the delay shape.
  RetryPolicy unbounded(1 << 20, options_.retry.base_delay, options_.retry.max_delay);
  return unbounded.Next(attempt, jitter_(), retry_after).delay;
}

asio::awaitable<Result<std::string>> PayerClient::Authorize(http::Request& request) {
  if (!IsTrusted(request.url)) {
    co_return MakeError(ErrorKind::kUntrustedHost,
                        DescribeRequest(request) + ": host " + request.url.host +
                            " is not in trusted_hosts of payer " + options_.id +
                            "; the token is not sent");
  }
  auto token = co_await tokens_.Get();
  if (!token) co_return std::move(token).error();
  TokenOk();
  request.headers.push_back({"Authorization", "Bearer " + *token});
  co_return std::move(token).value();
}

asio::awaitable<void> PayerClient::AwaitTurn() {
  co_await limiter_.Acquire();
  ++turns_;
}

asio::awaitable<Result<PayerClient::Attempt>> PayerClient::BeginAttempt(http::Request& request,
                                                                        size_t base_headers,
                                                                        bool with_token,
                                                                        bool file) {
  request.headers.resize(base_headers);
  if (held_back(NowMs())) co_return HeldBack(request);
  Attempt attempt;
  if (with_token) {
    if (auth_rejected_ && NowMs() < auth_next_try_ms_) {
      co_return MakeError(ErrorKind::kAuth, "token endpoint rejects our credentials (" +
                                                auth_error_ + "); waiting for a reload");
    }
    auto t = co_await Authorize(request);
    if (!t && TokenThrottles(t.error())) {
      AfterAttempt(false, t.error().http_status, "");
      co_return HeldBack(request);
    }
    if (!t) co_return std::move(t).error();
    attempt.token = std::move(t).value();
  }
  if (file && turns_ > 0) {
    --turns_;  // taken ahead, before the download slot (AwaitTurn)
  } else {
    co_await limiter_.Acquire();
  }
  // The gate again, right before sending: a block may have begun while we waited.
  const ThrottleState::Decision d = throttle_.Admit(NowMs());
  if (d.admission == ThrottleState::Admission::kWait ||
      d.admission == ThrottleState::Admission::kAwaitProbe) {
    co_return HeldBack(request);
  }
  attempt.probe = d.admission == ThrottleState::Admission::kProbe;
  ++counters_.requests;
  co_return attempt;
}

namespace {

// Tells the throttle gate when the probe's answer has begun: its first body bytes (only 2xx bodies
// reach a sink), so the payer's other jobs need not wait for a whole file.
class ProbeSink final : public http::BodySink {
 public:
  ProbeSink(http::BodySink& inner, std::function<void()> answered)
      : inner_(inner), answered_(std::move(answered)) {}
  Result<void> OnData(std::string_view chunk) override {
    if (answered_) std::exchange(answered_, nullptr)();
    return inner_.OnData(chunk);
  }
  std::span<char> Buffer() override { return inner_.Buffer(); }

 private:
  http::BodySink& inner_;
  std::function<void()> answered_;
};

}  // namespace


asio::awaitable<Result<http::Response>> PayerClient::Send(http::Request request, size_t body_limit,
                                                          bool with_token,
                                                          std::string_view endpoint) {
  request.timeout = options_.request_timeout;
  const size_t base_headers = request.headers.size();
  bool refreshed = false;
  std::optional<Error> last;
  for (int attempt = 1;; ++attempt) {
    const http::Response* answer = nullptr;
    auto begun =
        co_await BeginAttempt(request, base_headers, with_token, endpoint == kFileEndpoint);
    const bool sent = begun.ok();
    if (!begun) {
      Error e = std::move(begun).error();
      if (e.kind == ErrorKind::kUntrustedHost || e.kind == ErrorKind::kThrottled) co_return e;
      // The token endpoint being down is retried like the request itself.
      if (!IsRetryableToken(e)) co_return TokenFailure(std::move(e));
      last = std::move(e);
    } else {
      auto start = std::chrono::steady_clock::now();
      auto r = co_await http_.Send(request, body_limit);
      Observe(endpoint, r, start);
      if (AfterAttempt(begun->probe, r ? r->status : 0, r ? r->Get("retry-after") : "")) {
        AdaptRate(r->status);
        co_return Throttled(request, r->status);
      }
      if (r) {
        int st = r->status;
        AdaptRate(st);
        if (st >= 200 && st < 300) co_return r;
        FailureClass cls = ClassifyHttpStatus(st);
        if (cls == FailureClass::kUnauthorized && with_token && !refreshed) {
          refreshed = true;
          ++counters_.token_refreshes;
          tokens_.Invalidate(begun->token);
          --attempt;  // the refresh does not count as a failed attempt
          continue;
        }
        if (cls != FailureClass::kRetryable) co_return r;
        last = MakeError(ErrorKind::kHttpStatus, std::to_string(st), st);
        answer = &r.value();
      } else {
        if (!IsRetryableError(r.error().kind)) co_return std::move(r).error();
        last = r.error();
      }
      if (attempt < retry_.max_attempts()) {
        ++counters_.retries;
        metrics_.GetCounter(metric::kHttpRetries, {{"payer", options_.id}, {"endpoint", endpoint}})
            .Inc();
        co_await Sleep(BackoffDelay(attempt, answer));
        continue;
      }
    }
    if (attempt >= retry_.max_attempts()) {
      Error e = *last;
      e.message = DescribeRequest(request) + ": " + e.message + " after " +
                  std::to_string(attempt) + " attempts";
      co_return sent ? e : TokenFailure(std::move(e));
    }
    co_await Sleep(BackoffDelay(attempt, nullptr));
  }
}

asio::awaitable<Result<http::Response>> PayerClient::StreamOnce(http::Request request,
                                                                http::BodySink& sink,
                                                                bool with_token,
                                                                std::string_view endpoint) {
  request.timeout = options_.request_timeout;
  const size_t base_headers = request.headers.size();
  for (int round = 0; round < 2; ++round) {
    auto begun =
        co_await BeginAttempt(request, base_headers, with_token, endpoint == kFileEndpoint);
    if (!begun) {
      Error e = std::move(begun).error();
      if (e.kind == ErrorKind::kUntrustedHost || e.kind == ErrorKind::kThrottled) co_return e;
      co_return TokenFailure(std::move(e));
    }
    const bool probe = begun->probe;
    bool reported = false;
    ProbeSink probe_sink(sink, [&] {
      reported = true;
      AfterAttempt(true, 200, "");
    });
    auto start = std::chrono::steady_clock::now();
    auto r = co_await http_.Stream(request, probe ? static_cast<http::BodySink&>(probe_sink) : sink);
    Observe(endpoint, r, start);
    if (!reported && AfterAttempt(probe, r ? r->status : 0, r ? r->Get("retry-after") : "")) {
      AdaptRate(r->status);
      co_return Throttled(request, r->status);
    }
    if (r) AdaptRate(r->status);
    if (r && r->status == 401 && with_token && round == 0) {
      ++counters_.token_refreshes;
      tokens_.Invalidate(begun->token);
      continue;
    }
    co_return r;
  }
  co_return MakeError(ErrorKind::kInternal, "unreachable");
}

asio::awaitable<Result<int>> PayerClient::CancelExport(const std::string& poll_url) {
  auto url = Url::Parse(poll_url);
  if (!url) co_return std::move(url).error().Context("export status URL");
  http::Request req;
  req.method = "DELETE";
  req.url = std::move(url).value();
  req.headers = {{"Accept", "application/fhir+json"}};
  const bool with_token = IsTrusted(req.url);
  const std::string what = DescribeRequest(req);
  auto r = co_await Send(std::move(req), 64 * 1024, with_token, "cancel");
  if (!r) co_return std::move(r).error();
  spdlog::info("payer {}: export cancelled: {}: HTTP {}", options_.id, what, r->status);
  co_return r->status;
}

}  // namespace p2p::pipeline
