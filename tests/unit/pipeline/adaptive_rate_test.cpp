// Adaptive throttling (pipeline/rate_limiter.h): 429s lower a payer's request rate, successes
// raise it back, never below one request per retry.max_delay nor above the configured rate.
#include <gtest/gtest.h>

#include "pipeline/rate_limiter.h"

namespace p2p::pipeline {
namespace {

using std::chrono::milliseconds;
using Tp = AdaptiveRate::TimePoint;

const Tp kT0 = Tp{} + std::chrono::hours(1);

TEST(RateLimiter, ThrottlingHalvesTheRateOncePerRequestInterval) {
  AdaptiveRate r(10.0);
  EXPECT_TRUE(r.OnThrottled(kT0, milliseconds(60000)));
  EXPECT_DOUBLE_EQ(r.current(), 5.0);
  // 429s to requests already in flight (within one interval of 200 ms) count once.
  EXPECT_FALSE(r.OnThrottled(kT0 + milliseconds(150), milliseconds(60000)));
  EXPECT_DOUBLE_EQ(r.current(), 5.0);
  EXPECT_TRUE(r.OnThrottled(kT0 + milliseconds(200), milliseconds(60000)));
  EXPECT_DOUBLE_EQ(r.current(), 2.5);
}

TEST(RateLimiter, AStormNeverTakesTheRateBelowOneRequestPerMaxDelay) {
  AdaptiveRate r(10.0);
  Tp t = kT0;
  for (int i = 0; i < 100; ++i) {
    r.OnThrottled(t, milliseconds(2000));
    t += std::chrono::seconds(10);
  }
  EXPECT_DOUBLE_EQ(r.current(), 0.5);  // one per 2 s
  EXPECT_FALSE(r.OnThrottled(t, milliseconds(2000)));
}

TEST(RateLimiter, AConfiguredRateBelowTheFloorIsKept) {
  AdaptiveRate r(0.1);
  EXPECT_FALSE(r.OnThrottled(kT0, milliseconds(1000)));
  EXPECT_DOUBLE_EQ(r.current(), 0.1);
}

TEST(RateLimiter, SuccessesClimbBackToTheConfiguredRateAndNoFurther) {
  AdaptiveRate r(8.0);
  r.OnThrottled(kT0, milliseconds(60000));
  r.OnThrottled(kT0 + std::chrono::seconds(1), milliseconds(60000));
  ASSERT_DOUBLE_EQ(r.current(), 2.0);
  EXPECT_TRUE(r.OnSuccess());
  EXPECT_DOUBLE_EQ(r.current(), 2.5);
  int steps = 1;
  while (r.OnSuccess()) ++steps;
  EXPECT_DOUBLE_EQ(r.current(), 8.0);
  EXPECT_EQ(steps, 7);  // 2 * 1.25^6 = 7.63, then capped at 8
  EXPECT_FALSE(r.OnSuccess());
}

TEST(RateLimiter, ReconfiguringStartsOverFromTheNewRate) {
  AdaptiveRate r(8.0);
  r.OnThrottled(kT0, milliseconds(60000));
  r.Configure(20.0);
  EXPECT_DOUBLE_EQ(r.current(), 20.0);
  EXPECT_DOUBLE_EQ(r.configured(), 20.0);
  EXPECT_TRUE(r.OnThrottled(kT0, milliseconds(60000)));  // no cut remembered from before
}

TEST(RateLimiter, TheBucketFollowsTheAdaptiveRate) {
  RateLimiter limiter(10.0);
  EXPECT_TRUE(limiter.Throttled(milliseconds(60000)));
  EXPECT_DOUBLE_EQ(limiter.rate(), 5.0);
  EXPECT_DOUBLE_EQ(limiter.configured_rate(), 10.0);
  EXPECT_TRUE(limiter.Succeeded());
  EXPECT_DOUBLE_EQ(limiter.rate(), 6.25);
  limiter.SetRate(3.0);
  EXPECT_DOUBLE_EQ(limiter.rate(), 3.0);
}

}  // namespace
}  // namespace p2p::pipeline
