#include "pipeline/rate_limiter.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace p2p::pipeline {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

RateLimiter::RateLimiter(double per_second)
    : rate_(per_second), burst_(std::max(1.0, per_second)), tokens_(burst_), last_(Clock::now()) {}

void RateLimiter::SetRate(double per_second) {
  rate_ = std::max(per_second, 1e-6);
  burst_ = std::max(1.0, rate_);
  tokens_ = std::min(tokens_, burst_);
}

asio::awaitable<void> RateLimiter::Acquire() {
  auto now = Clock::now();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  tokens_ -= 1.0;  // reserve ours; a negative balance is the queue of waiters
  if (tokens_ >= 0.0) co_return;
  auto wait = std::chrono::duration<double>(-tokens_ / rate_);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::duration_cast<Clock::duration>(wait));
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace p2p::pipeline
