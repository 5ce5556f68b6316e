#include "pipeline/rate_limiter.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace p2p::pipeline {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kMinRate = 1e-6;
constexpr double kCutFactor = 0.5;
constexpr double kClimbFactor = 1.25;

}  // namespace

AdaptiveRate::AdaptiveRate(double configured_per_second)
    : configured_(std::max(configured_per_second, kMinRate)), current_(configured_) {}

void AdaptiveRate::Configure(double configured_per_second) {
  configured_ = std::max(configured_per_second, kMinRate);
  current_ = configured_;
  cut_before_ = false;
}

bool AdaptiveRate::OnThrottled(TimePoint now, Millis max_delay) {
  // Answers to requests sent before the last cut say nothing new: one cut per interval.
  const auto interval = std::chrono::duration<double>(1.0 / current_);
  if (cut_before_ && now - last_cut_ < interval) return false;
  const double floor =
      std::min(configured_, 1000.0 / static_cast<double>(std::max<int64_t>(1, max_delay.count())));
  const double next = std::max(floor, current_ * kCutFactor);
  last_cut_ = now;
  cut_before_ = true;
  if (next >= current_) return false;
  current_ = next;
  return true;
}

bool AdaptiveRate::OnSuccess() {
  if (current_ >= configured_) return false;
  current_ = std::min(configured_, current_ * kClimbFactor);
  return true;
}

RateLimiter::RateLimiter(double per_second)
    : adaptive_(per_second),
      rate_(adaptive_.current()),
      burst_(std::max(1.0, rate_)),
      tokens_(burst_),
      last_(Clock::now()) {}

void RateLimiter::Apply(double per_second) {
  rate_ = std::max(per_second, kMinRate);
  burst_ = std::max(1.0, rate_);
  tokens_ = std::min(tokens_, burst_);
}

void RateLimiter::SetRate(double per_second) {
  adaptive_.Configure(per_second);
  Apply(adaptive_.current());
}

bool RateLimiter::Throttled(Millis max_delay) {
  if (!adaptive_.OnThrottled(Clock::now(), max_delay)) return false;
  Apply(adaptive_.current());
  return true;
}

bool RateLimiter::Succeeded() {
  if (!adaptive_.OnSuccess()) return false;
  Apply(adaptive_.current());
  return true;
}

Clock::duration RateLimiter::Backlog() const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - last_).count();
  const double tokens = std::min(burst_, tokens_ + elapsed * rate_);
  if (tokens >= 0.0) return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(-tokens / rate_));
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
