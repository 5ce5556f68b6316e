#include "core/duration.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace p2p {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, ReadsEveryUnit) {
  EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(ParseDuration("10s"), milliseconds(10'000));
  EXPECT_EQ(ParseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(ParseDuration("24h"), milliseconds(86'400'000));
  EXPECT_EQ(ParseDuration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(ParseDuration("0s"), milliseconds(0));
}

TEST(ParseDuration, RefusesAnythingElse) {
  for (const char* text : {"", "10", "s", "-5s", "+5s", "1.5s", "5 s", " 5s", "5s ", "1h30m",
                           "5sec", "5M", "10us", "99999999999999999999ms", "9999999999999999d"}) {
    EXPECT_EQ(ParseDuration(text), std::nullopt) << text;
  }
}

TEST(FormatDuration, UsesTheLargestExactUnit) {
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(90'000)), "90s");
  EXPECT_EQ(FormatDuration(milliseconds(60'000)), "1m");
  EXPECT_EQ(FormatDuration(milliseconds(7'200'000)), "2h");
  EXPECT_EQ(FormatDuration(milliseconds(86'400'000)), "1d");
}

TEST(FormatDuration, RoundTripsThroughParseDuration) {
  for (long long ms : {1LL, 999LL, 1000LL, 61'000LL, 3'600'000LL, 90'000'000LL}) {
    EXPECT_EQ(ParseDuration(FormatDuration(milliseconds(ms))), milliseconds(ms)) << ms;
  }
}

}  // namespace
}  // namespace p2p
