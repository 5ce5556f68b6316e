// Retry decisions for requests to prior payers: exponential backoff with full jitter, honouring
// Retry-After (clamped), capped by max_attempts. Pure: the caller supplies the random draw and
// the current time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace p2p {

using Millis = std::chrono::milliseconds;

// How an answer or failure is to be treated.
enum class FailureClass : int {
  kRetryable = 1,    // network error, timeout, 408, 429, 5xx, truncated body, OO "transient"
  kUnauthorized = 2, // 401: refresh the token once, then retry
  kTerminal = 3,     // other 4xx, bad shapes
};

// Classifies an HTTP status of a failed request (non-2xx).
FailureClass ClassifyHttpStatus(int status);

struct RetryDecision {
  bool retry = false;
  Millis delay{0};
};

class RetryPolicy {
 public:
  RetryPolicy(int max_attempts, Millis base_delay, Millis max_delay);

  // After failed attempt number `attempt` (1-based). `jitter01` in [0,1) (full jitter:
  // delay = jitter01 * min(max_delay, base * 2^(attempt-1))). A server-given `retry_after`
  // replaces the computed delay, clamped to [base_delay, max_delay]. No retry once attempt >=
  // max_attempts.
  RetryDecision Next(int attempt, double jitter01, std::optional<Millis> retry_after) const;

  int max_attempts() const { return max_attempts_; }

 private:
  int max_attempts_;
  Millis base_;
  Millis max_;
};

// Parses a Retry-After value: delta-seconds ("120") or an HTTP-date (IMF-fixdate, RFC 850, or
// asctime). `now_unix` is the current time (seconds since the epoch). Returns the delay from now;
// nullopt when unreadable. Absurd values are clamped by the caller's policy, but here: a date in
// the past -> 0; a value that looks like an epoch timestamp in seconds (> 10^9) or milliseconds
// (> 10^12) is read as that instant, not as a delta.
std::optional<Millis> ParseRetryAfter(std::string_view value, int64_t now_unix);

}  // namespace p2p
