#include "pipeline/payer_client.h"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "pipeline/step_util.h"

namespace p2p::pipeline {

namespace asio = boost::asio;

namespace {

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
      metrics_(metrics) {
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
      spdlog::warn("payer {}: throttled (429); request rate lowered to {:.3g}/s", options_.id,
                   limiter_.rate());
    }
  } else if (status >= 200 && status < 300) {
    if (limiter_.Succeeded() && limiter_.rate() >= limiter_.configured_rate()) {
      spdlog::info("payer {}: request rate back to {:.3g}/s", options_.id, limiter_.rate());
    }
  }
}

Error PayerClient::TokenFailure(Error e) {
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
}

void PayerClient::Reconfigure() {
  limiter_.SetRate(options_.limits.requests_per_second);
  retry_ = RetryPolicy(options_.retry.max_attempts, options_.retry.base_delay,
                       options_.retry.max_delay);
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

asio::awaitable<Result<std::string>> PayerClient::BeginAttempt(http::Request& request,
                                                               size_t base_headers,
                                                               bool with_token) {
  request.headers.resize(base_headers);
  std::string token;
  if (with_token) {
    auto t = co_await Authorize(request);
    if (!t) co_return std::move(t).error();
    token = std::move(t).value();
  }
  co_await limiter_.Acquire();
  ++counters_.requests;
  co_return token;
}

asio::awaitable<Result<http::Response>> PayerClient::Send(http::Request request, size_t body_limit,
                                                          bool with_token,
                                                          std::string_view endpoint) {
  request.timeout = options_.request_timeout;
  const size_t base_headers = request.headers.size();
  bool refreshed = false;
  std::optional<Error> last;
  for (int attempt = 1;; ++attempt) {
    const http::Response* answer = nullptr;
    auto token = co_await BeginAttempt(request, base_headers, with_token);
    if (!token) {
      // The token endpoint being down or throttling is retried like the request itself.
      if (token.error().kind == ErrorKind::kUntrustedHost) co_return std::move(token).error();
      if (!IsRetryableToken(token.error())) co_return TokenFailure(std::move(token).error());
      last = token.error();
    } else {
      auto start = std::chrono::steady_clock::now();
      auto r = co_await http_.Send(request, body_limit);
      Observe(endpoint, r, start);
      if (r) {
        int st = r->status;
        AdaptRate(st);
        if (st >= 200 && st < 300) co_return r;
        FailureClass cls = ClassifyHttpStatus(st);
        if (cls == FailureClass::kUnauthorized && with_token && !refreshed) {
          refreshed = true;
          ++counters_.token_refreshes;
          tokens_.Invalidate(*token);
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
      co_return token ? e : TokenFailure(std::move(e));
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
    auto token = co_await BeginAttempt(request, base_headers, with_token);
    if (!token) {
      if (token.error().kind == ErrorKind::kUntrustedHost) co_return std::move(token).error();
      co_return TokenFailure(std::move(token).error());
    }
    auto start = std::chrono::steady_clock::now();
    auto r = co_await http_.Stream(request, sink);
    Observe(endpoint, r, start);
    if (r) AdaptRate(r->status);
    if (r && r->status == 401 && with_token && round == 0) {
      ++counters_.token_refreshes;
      tokens_.Invalidate(*token);
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
