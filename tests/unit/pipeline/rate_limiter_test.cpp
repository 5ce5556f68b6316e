#include "pipeline/rate_limiter.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>

namespace p2p::pipeline {
namespace {

namespace asio = boost::asio;

// Behaviour, not timing: a burst of one second's worth passes at once; the next request waits
// for at least one token interval.
TEST(RateLimiter, BurstPassesThenTheNextRequestWaits) {
  asio::io_context io;
  RateLimiter limiter(100.0);  // 100/s: burst 100, then one per 10 ms
  std::chrono::steady_clock::duration burst{}, after{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 100; ++i) co_await limiter.Acquire();
        auto t1 = std::chrono::steady_clock::now();
        co_await limiter.Acquire();
        co_await limiter.Acquire();
        auto t2 = std::chrono::steady_clock::now();
        burst = t1 - t0;
        after = t2 - t1;
      },
      asio::detached);
  io.run();
  EXPECT_LT(burst, std::chrono::milliseconds(500));
  EXPECT_GE(after, std::chrono::milliseconds(9));
}

}  // namespace
}  // namespace p2p::pipeline
