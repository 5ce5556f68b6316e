// Everything the pipeline needs to talk to one prior payer: its options, the shared token cache,
// the request-rate limiter and the retry policy. Send() is the one place where bearer tokens are
// attached (only to trusted hosts, only in the Authorization header, never to a redirect's
// Location: 3xx answers are returned, not followed), 401s refresh the token once, and retryable
// failures back off with full jitter and Retry-After. The constructor registers the payer's TLS
// settings (payers[].tls) with the HttpClient for the payer's hosts.
//
// Threading: io_context thread only. Owns its TokenCache and RateLimiter; borrows the HttpClient.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>

#include "auth/token_cache.h"
#include "core/result.h"
#include "core/retry_policy.h"
#include "http/client.h"
#include "ops/metrics.h"
#include "ops/options.h"
#include "pipeline/rate_limiter.h"

namespace p2p::pipeline {

struct PayerCounters {
  int64_t requests = 0;
  int64_t retries = 0;
  int64_t token_refreshes = 0;
};

class PayerClient {
 public:
  // `jitter01` draws uniformly from [0,1) (injectable for tests).
  // `metrics` receives requests by endpoint and code, retries and latencies.
  PayerClient(http::HttpClient& http, const PayerOptions& options, std::function<double()> jitter01,
              Metrics& metrics);

  const PayerOptions& options() const { return options_; }
  // options() changed in place (reload): apply the new rate limit and retry policy.
  void Reconfigure();
  const std::string& id() const { return options_.id; }
  // True when `url`'s host may receive this payer's bearer token.
  bool IsTrusted(const Url& url) const;

  // Sends `request` (a bearer token added when `with_token`) with the payer's rate limit and
  // retry policy. Returns the final answer: a 2xx, or a non-retryable status (4xx other than
  // 408/429, or 401 after one token refresh). Errors: kUntrustedHost (nothing sent) when the
  // token would go to a host not in trusted_hosts; the last failure after retry.max_attempts, as
  // "<METHOD> <path>: <reason> after N attempts" (kHttpStatus with http_status for 5xx/429,
  // else kNetwork/kTimeout/...); kAuth when the token endpoint refuses us, or is still down or
  // failing after retry.max_attempts: the caller waits (backoff) and never fails a job for it.
  // A 429 lowers the payer's request rate (RateLimiter::Throttled); 2xx answers raise it again.
  // `endpoint` names the step for metrics: member_match | export | poll | file | cancel.
  boost::asio::awaitable<Result<http::Response>> Send(http::Request request, size_t body_limit,
                                                      bool with_token, std::string_view endpoint);

  // One streamed attempt (downloads retry at file level): rate-limited, token attached when
  // `with_token`, one refresh-and-repeat on 401 (the sink is not called for non-2xx answers).
  // A token failure comes back as kAuth (the caller waits).
  boost::asio::awaitable<Result<http::Response>> StreamOnce(http::Request request,
                                                            http::BodySink& sink, bool with_token,
                                                            std::string_view endpoint);

  // Cancels a running export: Bulk Data DELETE to its status URL `poll_url` (with the token when
  // the host is trusted). Returns the answer's status: 202 (cancelled), 404/410 (already gone)
  // and other non-retryable statuses are answers, not errors; errors as for Send().
  boost::asio::awaitable<Result<int>> CancelExport(const std::string& poll_url);

  // Delay before retry number `attempt` (1-based) of a failed step, honouring Retry-After.
  Millis BackoffDelay(int attempt, const http::Response* answer) const;

  const RetryPolicy& retry() const { return retry_; }
  // The request rate in force (limits.requests_per_second, or lower after 429s).
  double current_rate() const { return limiter_.rate(); }
  const PayerCounters& counters() const { return counters_; }
  Metrics& metrics() { return metrics_; }

 private:
  // Gives the payer's hosts (base_url, token_url, trusted_hosts) its tls settings.
  void ApplyTls();
  // Adds the Authorization header; kUntrustedHost when the host is not trusted.
  boost::asio::awaitable<Result<std::string>> Authorize(http::Request& request);
  // One attempt's preparation: fresh headers, the bearer token (when asked), the rate limit.
  // Returns the token sent ("" without one).
  boost::asio::awaitable<Result<std::string>> BeginAttempt(http::Request& request,
                                                           size_t base_headers, bool with_token);
  // Counts one answered (or failed) request and its latency.
  void Observe(std::string_view endpoint, const Result<http::Response>& r,
               std::chrono::steady_clock::time_point start);
  // Feeds an answer's status to the adaptive rate (429 down, 2xx up), logging changes.
  void AdaptRate(int status);
  // A failed token fetch as kAuth (logged once per outage); clears the outage on success.
  Error TokenFailure(Error e);
  void TokenOk();

  http::HttpClient& http_;
  const PayerOptions& options_;
  std::function<double()> jitter_;
  auth::TokenCache tokens_;
  RateLimiter limiter_;
  RetryPolicy retry_;
  PayerCounters counters_;
  Metrics& metrics_;
  bool token_down_ = false;
};

// Gives `payer`'s hosts (base_url, token_url, trusted_hosts) its tls settings in `http` (nothing
// when payers[].tls is empty: the client's default context, the system store). A file that fails
// to load stays attached to the host (see HttpClient::UseTls).
void UsePayerTls(http::HttpClient& http, const PayerOptions& payer);

// "GET /v1/bison/x" for messages and logs: method and path without query.
std::string DescribeRequest(const http::Request& request);

}  // namespace p2p::pipeline
