// Request-rate limiting for one payer.
//
// AdaptiveRate decides the rate (pure: the caller passes the time): it starts at the configured
// limits.requests_per_second, halves on a throttling answer (429) at most once per current
// request interval (a burst of 429s from requests already in flight counts once), and climbs
// back by a quarter per successful answer until it is at the configured rate again. It never
// goes below one request per retry.max_delay (nor above the configured rate).
//
// RateLimiter is the token bucket that enforces the current rate, with a burst of one second's
// worth. Acquire() suspends the calling coroutine until a token is available.
// Threading: io_context thread only.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>

#include <chrono>

#include "core/retry_policy.h"

namespace p2p::pipeline {

class AdaptiveRate {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit AdaptiveRate(double configured_per_second);

  // A new configured rate (config reload): the current rate starts over from it.
  void Configure(double configured_per_second);
  // A throttling answer at `now`; `max_delay` is the payer's retry.max_delay (the floor is one
  // request per max_delay). Returns true when the rate changed.
  bool OnThrottled(TimePoint now, Millis max_delay);
  // A successful answer. Returns true when the rate changed.
  bool OnSuccess();

  double current() const { return current_; }
  double configured() const { return configured_; }

 private:
  double configured_;
  double current_;
  TimePoint last_cut_{};
  bool cut_before_ = false;
};

class RateLimiter {
 public:
  explicit RateLimiter(double per_second);

  boost::asio::awaitable<void> Acquire();
  // How long the requests already waiting for a token still wait (zero when none waits).
  std::chrono::steady_clock::duration Backlog() const;

  // Changes the configured rate (config reload); the adaptive rate starts over from it.
  void SetRate(double per_second);
  // Adaptive throttling: see AdaptiveRate. Return true when the rate changed.
  bool Throttled(Millis max_delay);
  bool Succeeded();

  double rate() const { return rate_; }  // the rate in force
  double configured_rate() const { return adaptive_.configured(); }

 private:
  void Apply(double per_second);

  AdaptiveRate adaptive_;
  double rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace p2p::pipeline
