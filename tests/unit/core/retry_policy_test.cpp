#include "core/retry_policy.h"

#include <gtest/gtest.h>

namespace p2p {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z, a Thursday

TEST(ClassifyHttpStatus, RetryableUnauthorizedAndTerminal) {
  const std::pair<int, FailureClass> cases[] = {
      {408, FailureClass::kRetryable}, {429, FailureClass::kRetryable},
      {500, FailureClass::kRetryable}, {502, FailureClass::kRetryable},
      {503, FailureClass::kRetryable}, {504, FailureClass::kRetryable},
      {599, FailureClass::kRetryable}, {401, FailureClass::kUnauthorized},
      {400, FailureClass::kTerminal},  {403, FailureClass::kTerminal},
      {404, FailureClass::kTerminal},  {409, FailureClass::kTerminal},
      {410, FailureClass::kTerminal},  {422, FailureClass::kTerminal},
      {499, FailureClass::kTerminal},
  };
  for (const auto& [status, expected] : cases) {
    EXPECT_EQ(ClassifyHttpStatus(status), expected) << status;
  }
}

TEST(RetryPolicy, FullJitterStaysWithinTheExponentialBound) {
  const RetryPolicy policy(10, milliseconds(100), milliseconds(60000));
  for (int attempt = 1; attempt < 10; ++attempt) {
    const int64_t bound = std::min<int64_t>(60000, 100LL << (attempt - 1));
    const RetryDecision low = policy.Next(attempt, 0.0, std::nullopt);
    const RetryDecision mid = policy.Next(attempt, 0.5, std::nullopt);
    const RetryDecision high = policy.Next(attempt, 0.999999, std::nullopt);
    EXPECT_TRUE(low.retry);
    EXPECT_EQ(low.delay, milliseconds(0)) << attempt;
    EXPECT_EQ(mid.delay, milliseconds(bound / 2)) << attempt;
    EXPECT_LT(high.delay, milliseconds(bound)) << attempt;
    EXPECT_GE(high.delay, milliseconds(bound - 1)) << attempt;
  }
}

TEST(RetryPolicy, DelayIsCappedAtMaxDelay) {
  const RetryPolicy policy(100, milliseconds(500), milliseconds(60000));
  EXPECT_EQ(policy.Next(8, 0.5, std::nullopt).delay, milliseconds(30000));  // 500*2^7 = 64000 > cap
  EXPECT_EQ(policy.Next(99, 0.5, std::nullopt).delay, milliseconds(30000));  // no overflow
}

TEST(RetryPolicy, JitterOutsideTheUnitIntervalIsClamped) {
  const RetryPolicy policy(5, milliseconds(1000), milliseconds(1000));
  EXPECT_EQ(policy.Next(1, -3.0, std::nullopt).delay, milliseconds(0));
  EXPECT_EQ(policy.Next(1, 7.0, std::nullopt).delay, milliseconds(999));
}

TEST(RetryPolicy, StopsAtMaxAttempts) {
  const RetryPolicy policy(3, milliseconds(100), milliseconds(1000));
  EXPECT_TRUE(policy.Next(1, 0.5, std::nullopt).retry);
  EXPECT_TRUE(policy.Next(2, 0.5, std::nullopt).retry);
  EXPECT_FALSE(policy.Next(3, 0.5, std::nullopt).retry);
  EXPECT_FALSE(policy.Next(4, 0.5, milliseconds(200)).retry);
  EXPECT_FALSE(
      RetryPolicy(1, milliseconds(100), milliseconds(1000)).Next(1, 0.5, std::nullopt).retry);
}

TEST(RetryPolicy, RetryAfterReplacesTheComputedDelayClamped) {
  const RetryPolicy policy(5, milliseconds(500), milliseconds(10000));
  EXPECT_EQ(policy.Next(1, 0.0, milliseconds(3000)).delay, milliseconds(3000));
  EXPECT_EQ(policy.Next(1, 0.0, milliseconds(0)).delay, milliseconds(500));
  EXPECT_EQ(policy.Next(1, 0.0, milliseconds(86400000)).delay, milliseconds(10000));
}

TEST(ParseRetryAfter, DeltaSeconds) {
  EXPECT_EQ(ParseRetryAfter("120", kNow), milliseconds(120000));
  EXPECT_EQ(ParseRetryAfter("0", kNow), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter(" 5 ", kNow), milliseconds(5000));
}

TEST(ParseRetryAfter, HonoursRetryAfterHttpDateInEveryFormat) {
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Jan 2026 00:02:00 GMT", kNow), milliseconds(120000));
  EXPECT_EQ(ParseRetryAfter("Thursday, 01-Jan-26 00:02:00 GMT", kNow), milliseconds(120000));
  EXPECT_EQ(ParseRetryAfter("Thu Jan  1 00:02:00 2026", kNow), milliseconds(120000));
  EXPECT_EQ(ParseRetryAfter("Fri, 02 Jan 2026 00:00:00 GMT", kNow), milliseconds(86400000));
}

TEST(ParseRetryAfter, DateInThePastIsZero) {
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", kNow), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("Sun Nov  6 08:49:37 1994", kNow), milliseconds(0));
}

TEST(ParseRetryAfter, EpochTimestampsAreInstantsNotDeltas) {
  EXPECT_EQ(ParseRetryAfter("1767225630", kNow), milliseconds(30000));
  EXPECT_EQ(ParseRetryAfter("1767225600", kNow), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("1767225000", kNow), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("1767225601500", kNow), milliseconds(1500));
  EXPECT_EQ(ParseRetryAfter("1767225000000", kNow), milliseconds(0));
}

TEST(ParseRetryAfter, GarbageIsUnreadable) {
  for (const char* bad :
       {"", "   ", "soon", "-5", "+5", "1.5", "12s", "Thu, 01 Jan 2026 00:02:00",
        "Thu, 32 Jan 2026 00:02:00 GMT", "Thu, 01 Foo 2026 00:02:00 GMT",
        "Thu, 01 Jan 2026 25:02:00 GMT", "Xyz, 01 Jan 2026 00:02:00 GMT",
        "Thu, 01-Jan-26 00:02:00 GMT", "Thu Jan  1 00:02:00 2026 GMT", "1234567890123456789012"}) {
    EXPECT_EQ(ParseRetryAfter(bad, kNow), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace p2p

namespace p2p {
namespace {

// Servers send Retry-After values that must not be obeyed blindly: each ends up within
// [base_delay, max_delay] once the policy applies it.
TEST(RetryPolicy, AbsurdRetryAfterValuesAreClamped) {
  constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z
  const RetryPolicy policy(8, milliseconds(500), milliseconds(60000));
  struct Case {
    const char* value;
    milliseconds delay;
  };
  const Case cases[] = {
      {"Sun, 06 Nov 1994 08:49:37 GMT", milliseconds(500)},     // in the past
      {"Fri, 01 Jan 2100 00:00:00 GMT", milliseconds(60000)},   // years ahead
      {"31536000", milliseconds(60000)},                         // a year as delta-seconds
      {"1767225610", milliseconds(10000)},                       // epoch seconds, 10 s ahead
      {"1767225600000", milliseconds(500)},                      // epoch millis, now
      {"4102444800", milliseconds(60000)},                       // epoch seconds in 2100
      {"4102444800000", milliseconds(60000)},                    // epoch millis in 2100
      {"0", milliseconds(500)},
  };
  for (const Case& c : cases) {
    const auto after = ParseRetryAfter(c.value, kNow);
    ASSERT_TRUE(after.has_value()) << c.value;
    const RetryDecision d = policy.Next(1, 0.0, after);
    EXPECT_TRUE(d.retry) << c.value;
    EXPECT_EQ(d.delay, c.delay) << c.value;
  }
}

}  // namespace
}  // namespace p2p
