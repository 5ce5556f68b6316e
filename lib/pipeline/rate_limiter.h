// Token bucket limiting the request rate to one payer (limits.requests_per_second), with a burst
// of one second's worth. Acquire() suspends the calling coroutine until a token is available.
// Threading: io_context thread only.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>

#include <chrono>

namespace p2p::pipeline {

class RateLimiter {
 public:
  explicit RateLimiter(double per_second);

  boost::asio::awaitable<void> Acquire();

  // Changes the rate (adaptive throttling, config reload).
  void SetRate(double per_second);
  double rate() const { return rate_; }

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace p2p::pipeline
