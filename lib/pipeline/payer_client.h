// Everything the pipeline needs to talk to one prior payer: its options, the shared token cache,
// the request-rate limiter, the retry policy and the payer's condition (throttled, credentials
// rejected). Send() is the one place where bearer tokens are attached (only to trusted hosts,
// only in the Authorization header, never to a redirect's Location: 3xx answers are returned,
// not followed), 401s refresh the token once, and retryable failures back off with full jitter
// and Retry-After. The constructor registers the payer's TLS settings (payers[].tls) with the
// HttpClient for the payer's hosts.
//
// Throttling (core/throttle.h): a 429, or a 503 with Retry-After, is never a failed attempt. The
// payer becomes throttled until it is due again (Retry-After in any form, at most
// limits.max_throttle_wait); meanwhile every request of the payer comes back at once as
// kThrottled without being sent, and the caller's job waits (holding no slot) until
// throttled_until_ms(). When the wait is over, the first request is the one probe; the others
// come back kThrottled until it was answered. One log line when the payer becomes throttled, one
// when it recovers; `on_change` (set by the scheduler) is called at both, and when credentials
// are rejected.
//
// Rejected credentials: a token endpoint answering 400/401 (invalid_client, unauthorized_client,
// invalid_scope, invalid_grant, or no body) marks the payer's auth rejected: an error log line
// naming the payer and the OAuth code (never the secret), repeated every 10 minutes while it
// lasts; requests come back kAuth without a token request, except one try per retry.max_delay in
// case the payer fixes it on its side. Reconfigure() (SIGHUP, perhaps with a corrected secret)
// clears it.
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
#include "core/throttle.h"
#include "http/client.h"
#include "metrics/metrics.h"
#include "config/options.h"
#include "pipeline/rate_limiter.h"

namespace p2p::pipeline {

// The `endpoint` of export file requests (metrics label); see AwaitTurn().
inline constexpr std::string_view kFileEndpoint = "file";

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
  // options() changed in place (reload): apply the new rate limit, retry policy and throttle
  // limit, and forget rejected credentials (they are tried again).
  void Reconfigure();
  // Daemons sharing a PostgreSQL state divide limits.requests_per_second among the `instances`
  // alive (>= 1), so that the payer sees at most its limit from the cluster.
  void ShareRate(int64_t instances);
  // Called when the payer becomes throttled or recovers, or its credentials are rejected.
  void SetOnChange(std::function<void()> on_change) { on_change_ = std::move(on_change); }
  const std::string& id() const { return options_.id; }
  // True when `url`'s host may receive this payer's bearer token.
  bool IsTrusted(const Url& url) const;

  // Sends `request` (a bearer token added when `with_token`) with the payer's rate limit and
  // retry policy. Returns the final answer: a 2xx, or a non-retryable status (4xx other than
  // 408/429, or 401 after one token refresh). Errors: kUntrustedHost (nothing sent) when the
  // token would go to a host not in trusted_hosts; kThrottled (http_status 429/503, or 0 when
  // nothing was sent) while the payer throttles: the caller waits until throttled_until_ms() and
  // counts no attempt; the last failure after retry.max_attempts, as
  // "<METHOD> <path>: <reason> after N attempts" (kHttpStatus with http_status for 5xx,
  // else kNetwork/kTimeout/...); kAuth when the token endpoint refuses us, or is still down or
  // failing after retry.max_attempts: the caller waits (backoff) and never fails a job for it.
  // A 429 also lowers the payer's request rate (RateLimiter::Throttled); 2xx answers raise it.
  // `endpoint` names the step for metrics: member_match | export | poll | file | cancel.
  boost::asio::awaitable<Result<http::Response>> Send(http::Request request, size_t body_limit,
                                                      bool with_token, std::string_view endpoint);

  // One streamed attempt (downloads retry at file level): rate-limited, token attached when
  // `with_token`, one refresh-and-repeat on 401 (the sink is not called for non-2xx answers).
  // A token failure comes back as kAuth, a throttling payer as kThrottled (the caller waits).
  boost::asio::awaitable<Result<http::Response>> StreamOnce(http::Request request,
                                                            http::BodySink& sink, bool with_token,
                                                            std::string_view endpoint);

  // Cancels a running export: Bulk Data DELETE to its status URL `poll_url` (with the token when
  // the host is trusted). Returns the answer's status: 202 (cancelled), 404/410 (already gone)
  // and other non-retryable statuses are answers, not errors; errors as for Send().
  boost::asio::awaitable<Result<int>> CancelExport(const std::string& poll_url);

  // Waits for the payer's request rate ahead of a file request, so that the caller can take its
  // download slot (limits.max_downloads) only when it may send at once: the next file request
  // (endpoint kFileEndpoint) of this payer uses the turn taken here instead of waiting again.
  boost::asio::awaitable<void> AwaitTurn();

  // Delay before retry number `attempt` (1-based) of a failed step, honouring Retry-After.
  Millis BackoffDelay(int attempt, const http::Response* answer) const;

  const RetryPolicy& retry() const { return retry_; }
  // The request rate in force (limits.requests_per_second, or lower after 429s).
  double current_rate() const { return limiter_.rate(); }
  // How long the requests already waiting for the payer's request rate still wait (zero when
  // none waits): while they do, another job of the payer would only wait too.
  Millis rate_backlog() const {
    return std::chrono::ceil<Millis>(limiter_.Backlog());
  }
  const PayerCounters& counters() const { return counters_; }

  // The payer's condition (for the scheduler, /status, /readyz and /metrics).
  // Unix ms when a throttled payer is due again (0 when it is not throttled).
  int64_t throttled_until_ms() const { return throttle_.until_ms(); }
  // True while requests are held back: throttled and not yet due, or the probe is out.
  bool held_back(int64_t now_ms) const {
    return throttle_.throttled() && (throttle_.probing() || now_ms < throttle_.until_ms());
  }
  bool auth_rejected() const { return auth_rejected_; }
  const std::string& auth_error() const { return auth_error_; }  // the OAuth code, e.g. invalid_client
  Metrics& metrics() { return metrics_; }

 private:
  // Gives the payer's hosts (base_url, token_url, trusted_hosts) its tls settings.
  void ApplyTls();
  // Adds the Authorization header; kUntrustedHost when the host is not trusted.
  boost::asio::awaitable<Result<std::string>> Authorize(http::Request& request);
  // One attempt's preparation: the throttle gate, fresh headers, the bearer token (when asked),
  // the rate limit. Returns the token sent ("" without one) and whether this is the probe.
  struct Attempt {
    std::string token;
    bool probe = false;
  };
  // `file`: a file request, which uses a turn taken by AwaitTurn() when there is one.
  boost::asio::awaitable<Result<Attempt>> BeginAttempt(http::Request& request,
                                                       size_t base_headers, bool with_token,
                                                       bool file);
  // kThrottled for a request not sent: the payer is throttled until throttled_until_ms().
  Error HeldBack(const http::Request& request) const;
  // kThrottled for a request answered `status` (429, or 503 with Retry-After).
  Error Throttled(const http::Request& request, int status) const;
  // After an attempt that got `status` (0: no answer). Returns true when it was a throttling
  // answer (429, or 503 with Retry-After): the payer is then throttled.
  bool AfterAttempt(bool probe, int status, std::string_view retry_after);
  // A token endpoint answer that rejects our credentials: mark (and log) the payer's auth.
  void MarkAuthRejected(const Error& e);
  void SetThrottleGauge();
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
  ThrottleState throttle_;
  bool auth_rejected_ = false;
  std::string auth_error_;
  int64_t auth_logged_ms_ = 0;     // last error line about the rejection
  int64_t auth_next_try_ms_ = 0;   // one token request per retry.max_delay while rejected
  std::function<void()> on_change_;
  int64_t rate_share_ = 1;  // live instances the rate limit is divided among
  int turns_ = 0;  // AwaitTurn()s not yet used by a file request
};

// Gives `payer`'s hosts (base_url, token_url, trusted_hosts) its tls settings in `http` (nothing
// when payers[].tls is empty: the client's default context, the system store). A file that fails
// to load stays attached to the host (see HttpClient::UseTls).
void UsePayerTls(http::HttpClient& http, const PayerOptions& payer);

// "GET /v1/bison/x" for messages and logs: method and path without query.
std::string DescribeRequest(const http::Request& request);

}  // namespace p2p::pipeline
