// ThrottleDelay reads every Retry-After form real servers send; ThrottleState is one payer's gate:
// throttled until due, then exactly one probe, and only its answer ends the wait.
#include "core/throttle.h"

#include <gtest/gtest.h>

namespace p2p {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kNowMs = 1'796'000'000'250LL;  // 2026-11-30T00:53:20.250Z
constexpr milliseconds kMax{15 * 60 * 1000};

TEST(ThrottleDelay, DeltaSeconds) {
  EXPECT_EQ(ThrottleDelay("120", kNowMs, kMax), milliseconds(120'000));
  EXPECT_EQ(ThrottleDelay(" 0 ", kNowMs, kMax), milliseconds(0));
  EXPECT_EQ(ThrottleDelay("86400", kNowMs, kMax), kMax);  // clamped to max_throttle_wait
}

TEST(ThrottleDelay, HttpDateFromTheCurrentMillisecond) {
  // 90 s after kNowMs' whole second.
  EXPECT_EQ(ThrottleDelay("Mon, 30 Nov 2026 00:54:50 GMT", kNowMs, kMax), milliseconds(89'750));
  EXPECT_EQ(ThrottleDelay("Mon, 30 Nov 2026 00:00:00 GMT", kNowMs, kMax), milliseconds(0));
  EXPECT_EQ(ThrottleDelay("Fri, 01 Jan 2100 00:00:00 GMT", kNowMs, kMax), kMax);
}

TEST(ThrottleDelay, EpochSecondsInsideTheWindowAreAnInstant) {
  EXPECT_EQ(ThrottleDelay("1796000300", kNowMs, kMax), milliseconds(299'750));
}

TEST(ThrottleDelay, EpochMillisecondsInsideTheWindowAreAnInstant) {
  EXPECT_EQ(ThrottleDelay("1796000003000", kNowMs, kMax), milliseconds(2'750));
}

TEST(ThrottleDelay, EpochOutsideTheWindowIsClamped) {
  EXPECT_EQ(ThrottleDelay("1795999000", kNowMs, kMax), milliseconds(0));     // past, seconds
  EXPECT_EQ(ThrottleDelay("1795999000000", kNowMs, kMax), milliseconds(0));  // past, millis
  EXPECT_EQ(ThrottleDelay("4102444800", kNowMs, kMax), kMax);                // 2100, seconds
  EXPECT_EQ(ThrottleDelay("4102444800000", kNowMs, kMax), kMax);             // 2100, millis
  EXPECT_EQ(ThrottleDelay("99999999999999999999", kNowMs, kMax), kMax);
}

TEST(ThrottleDelay, UnreadableIsNullopt) {
  EXPECT_EQ(ThrottleDelay("", kNowMs, kMax), std::nullopt);
  EXPECT_EQ(ThrottleDelay("soon", kNowMs, kMax), std::nullopt);
  EXPECT_EQ(ThrottleDelay("-5", kNowMs, kMax), std::nullopt);
}

using A = ThrottleState::Admission;

TEST(ThrottleState, SendsUntilThrottled) {
  ThrottleState t(kMax, milliseconds(500));
  EXPECT_EQ(t.Admit(kNowMs).admission, A::kSend);
  EXPECT_FALSE(t.throttled());
  EXPECT_EQ(t.until_ms(), 0);
}

TEST(ThrottleState, WaitsOutRetryAfterThenSendsOneProbe) {
  ThrottleState t(kMax, milliseconds(500));
  EXPECT_TRUE(t.OnThrottled(kNowMs, milliseconds(3000), false));  // newly throttled
  EXPECT_FALSE(t.OnThrottled(kNowMs + 10, milliseconds(1000), false));  // a late answer: not new
  EXPECT_EQ(t.until_ms(), kNowMs + 3000);  // the later due time stands
  EXPECT_EQ(t.Admit(kNowMs + 2999).admission, A::kWait);
  EXPECT_EQ(t.Admit(kNowMs + 2999).until_ms, kNowMs + 3000);
  EXPECT_EQ(t.Admit(kNowMs + 3000).admission, A::kProbe);
  EXPECT_EQ(t.Admit(kNowMs + 3001).admission, A::kAwaitProbe);  // only one probe
  EXPECT_TRUE(t.OnOther(true));                                  // the probe got through
  EXPECT_EQ(t.Admit(kNowMs + 3002).admission, A::kSend);
}

TEST(ThrottleState, AThrottledProbeStartsANewWait) {
  ThrottleState t(kMax, milliseconds(500));
  t.OnThrottled(kNowMs, milliseconds(2000), false);
  ASSERT_EQ(t.Admit(kNowMs + 2000).admission, A::kProbe);
  EXPECT_FALSE(t.OnThrottled(kNowMs + 2100, milliseconds(2000), true));
  EXPECT_EQ(t.Admit(kNowMs + 2200).admission, A::kWait);
  EXPECT_EQ(t.until_ms(), kNowMs + 4100);
  EXPECT_EQ(t.since_ms(), kNowMs);
}

TEST(ThrottleState, AnswersToRequestsSentBeforeTheBlockDoNotEndIt) {
  ThrottleState t(kMax, milliseconds(500));
  t.OnThrottled(kNowMs, milliseconds(2000), false);
  EXPECT_FALSE(t.OnOther(false));
  EXPECT_TRUE(t.throttled());
}

TEST(ThrottleState, WithoutRetryAfterTheWaitDoublesUpToTheMaximum) {
  ThrottleState t(milliseconds(5000), milliseconds(1000));
  t.OnThrottled(kNowMs, std::nullopt, false);
  EXPECT_EQ(t.until_ms(), kNowMs + 1000);
  t.Admit(kNowMs + 1000);
  t.OnThrottled(kNowMs + 1000, std::nullopt, true);
  EXPECT_EQ(t.until_ms(), kNowMs + 3000);
  t.Admit(kNowMs + 3000);
  t.OnThrottled(kNowMs + 3000, std::nullopt, true);
  EXPECT_EQ(t.until_ms(), kNowMs + 7000);
  t.Admit(kNowMs + 7000);
  t.OnThrottled(kNowMs + 7000, std::nullopt, true);
  EXPECT_EQ(t.until_ms(), kNowMs + 12000);  // capped at 5 s
}

TEST(ThrottleState, AZeroOrPastRetryAfterStillWaitsASecond) {
  ThrottleState t(kMax, milliseconds(10));
  t.OnThrottled(kNowMs, milliseconds(0), false);
  EXPECT_EQ(t.until_ms(), kNowMs + 1000);
}

TEST(ThrottleState, AnAbandonedProbeLetsTheNextRequestProbe) {
  ThrottleState t(kMax, milliseconds(500));
  t.OnThrottled(kNowMs, milliseconds(1000), false);
  ASSERT_EQ(t.Admit(kNowMs + 1000).admission, A::kProbe);
  t.ProbeAbandoned();
  EXPECT_EQ(t.Admit(kNowMs + 1001).admission, A::kProbe);
}

}  // namespace
}  // namespace p2p
