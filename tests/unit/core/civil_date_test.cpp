#include "core/civil_date.h"

#include <gtest/gtest.h>

namespace p2p {
namespace {

TEST(CivilDate, ParsesKnownDays) {
  EXPECT_EQ(ParseCivilDate("1970-01-01"), 0);
  EXPECT_EQ(ParseCivilDate("1970-01-02"), 1);
  EXPECT_EQ(ParseCivilDate("1969-12-31"), -1);
  EXPECT_EQ(ParseCivilDate("2000-03-01"), 11017);
  EXPECT_EQ(ParseCivilDate("2027-01-01"), 20819);
  EXPECT_EQ(ParseCivilDate("1900-01-01"), -25567);
  EXPECT_EQ(ParseCivilDate("2200-12-31"), 84370);
}

TEST(CivilDate, LeapYears) {
  EXPECT_TRUE(ParseCivilDate("2024-02-29"));
  EXPECT_TRUE(ParseCivilDate("2000-02-29"));
  EXPECT_FALSE(ParseCivilDate("1900-02-29"));
  EXPECT_FALSE(ParseCivilDate("2025-02-29"));
  EXPECT_FALSE(ParseCivilDate("2100-02-29"));
}

TEST(CivilDate, RejectsAnythingButStrictDates) {
  for (const char* bad :
       {"", "2025-1-01", "2025-01-1", "20250101", "2025/01/01", "2025-00-10", "2025-13-01",
        "2025-04-31", "2025-01-00", " 2025-01-01", "2025-01-01 ", "2025-01-01T00:00:00Z",
        "1899-12-31", "2201-01-01", "+025-01-01", "２025-01-01", "2025-0a-01"}) {
    EXPECT_EQ(ParseCivilDate(bad), std::nullopt) << bad;
  }
}

TEST(CivilDate, FormatRoundTripsEveryDayInRange) {
  for (int64_t d = *ParseCivilDate("1900-01-01"); d <= *ParseCivilDate("2200-12-31"); ++d) {
    ASSERT_EQ(ParseCivilDate(FormatCivilDate(d)), d) << FormatCivilDate(d);
  }
  EXPECT_EQ(FormatCivilDate(0), "1970-01-01");
  EXPECT_EQ(FormatCivilDate(-1), "1969-12-31");
}

TEST(CivilDate, DaysFromYmd) {
  EXPECT_EQ(DaysFromYmd(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromYmd(1600, 3, 1), -135080);
  EXPECT_EQ(DaysFromYmd(2023, 2, 29), std::nullopt);
  EXPECT_EQ(DaysFromYmd(2023, 13, 1), std::nullopt);
  EXPECT_EQ(DaysFromYmd(2023, 1, 0), std::nullopt);
}

TEST(CivilDate, DaysFromUnixFloors) {
  EXPECT_EQ(DaysFromUnix(0), 0);
  EXPECT_EQ(DaysFromUnix(86399), 0);
  EXPECT_EQ(DaysFromUnix(86400), 1);
  EXPECT_EQ(DaysFromUnix(-1), -1);
  EXPECT_EQ(DaysFromUnix(1767225600), *ParseCivilDate("2026-01-01"));
}

TEST(CivilDate, RequestDeadlineIsEndOfDaySevenDaysAfterTheLaterDate) {
  const int64_t coverage = *ParseCivilDate("2027-01-01");
  const int64_t opt_in = *ParseCivilDate("2027-01-10");
  // 2027-01-17T23:59:59Z
  const int64_t expected = (*ParseCivilDate("2027-01-18")) * 86400 - 1;
  EXPECT_EQ(RequestDeadlineUnix(coverage, opt_in), expected);
  EXPECT_EQ(RequestDeadlineUnix(opt_in, coverage), expected);
  EXPECT_EQ(FormatInstantMillis(RequestDeadlineUnix(coverage, coverage) * 1000),
            "2027-01-08T23:59:59.000Z");
}

TEST(CivilDate, ParsesFhirInstants) {
  EXPECT_EQ(ParseInstantMillis("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseInstantMillis("2026-01-05T16:08:38.956Z"), 1767629318956);
  EXPECT_EQ(ParseInstantMillis("2026-01-05T16:08:38.9Z"), 1767629318900);
  EXPECT_EQ(ParseInstantMillis("2026-01-05T16:08:38.956789123Z"), 1767629318956);
  EXPECT_EQ(ParseInstantMillis("2026-01-05T17:08:38.956+01:00"), 1767629318956);
  EXPECT_EQ(ParseInstantMillis("2026-01-05T11:08:38.956-05:00"), 1767629318956);
  EXPECT_EQ(ParseInstantMillis("2026-01-05t16:08:38z"), 1767629318000);
  EXPECT_EQ(ParseInstantMillis("1969-12-31T23:59:59.999Z"), -1);
}

TEST(CivilDate, RejectsMalformedInstants) {
  for (const char* bad :
       {"", "2026-01-05", "2026-01-05T16:08Z", "2026-01-05T16:08:38", "2026-01-05 16:08:38Z",
        "2026-01-05T24:00:00Z", "2026-01-05T16:60:00Z", "2026-01-05T16:08:38.Z",
        "2026-01-05T16:08:38.1234567890Z", "2026-01-05T16:08:38+0100", "2026-01-05T16:08:38+01",
        "2026-01-05T16:08:38Z ", "2026-02-30T16:08:38Z", "2026-01-05T16:08:38+24:00"}) {
    EXPECT_EQ(ParseInstantMillis(bad), std::nullopt) << bad;
  }
}

TEST(CivilDate, FormatsInstants) {
  EXPECT_EQ(FormatInstantMillis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatInstantMillis(1767629318956), "2026-01-05T16:08:38.956Z");
  EXPECT_EQ(FormatInstantMillis(-1), "1969-12-31T23:59:59.999Z");
  for (int64_t ms :
       {int64_t{0}, int64_t{1767629318956}, int64_t{-86400001}, int64_t{951782400123}}) {
    EXPECT_EQ(ParseInstantMillis(FormatInstantMillis(ms)), ms);
  }
}

}  // namespace
}  // namespace p2p
