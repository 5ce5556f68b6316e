#include "text_util.h"

#include <gtest/gtest.h>

namespace p2p::sandbox {
namespace {

TEST(TextUtil, EscapesJsonStrings) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\nd\x01");
  EXPECT_EQ(out, R"("a\"b\\c\nd\u0001")");
}

TEST(TextUtil, FormatsInstantsDatesAndHttpDates) {
  EXPECT_EQ(FormatInstant(1767629318956), "2026-01-05T16:08:38.956Z");
  EXPECT_EQ(FormatDate(1767629318), "2026-01-05");
  EXPECT_EQ(FormatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(TextUtil, ParsesFhirInstantsAndDates) {
  EXPECT_EQ(ParseInstant("2026-01-05T16:08:38.956Z"), 1767629318);
  EXPECT_EQ(ParseInstant("2026-01-05T17:08:38+01:00"), 1767629318);
  EXPECT_EQ(ParseInstant("2026-01-05"), 1767571200);
  EXPECT_FALSE(ParseInstant("2026-01-05T16:08:38"));  // an instant needs its zone
  EXPECT_FALSE(ParseInstant("2026-02-30"));
  EXPECT_FALSE(ParseInstant("yesterday"));
}

TEST(TextUtil, DecodesPercentFormsAndBasicAuth) {
  EXPECT_EQ(PercentDecode("/v1/bison/bulk-data/r4/%24export", false), "/v1/bison/bulk-data/r4/$export");
  EXPECT_FALSE(PercentDecode("%2", false));
  EXPECT_FALSE(PercentDecode("%zz", false));
  auto form = ParseForm("client_id=a%20b&scope=member-match|read&x=1+2&client_id=second");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->at("client_id"), "a b");
  EXPECT_EQ(form->at("scope"), "member-match|read");
  EXPECT_EQ(form->at("x"), "1 2");
  auto basic = ParseBasicAuth("Basic c2FuZGJveC1jbGllbnQ6c2FuZGJveC1zZWNyZXQ=");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->id, "sandbox-client");
  EXPECT_EQ(basic->secret, "sandbox-secret");
  EXPECT_FALSE(ParseBasicAuth("Bearer abc"));
  EXPECT_FALSE(ParseBasicAuth("Basic !!!"));
}

TEST(TextUtil, ParsesDurations) {
  EXPECT_EQ(ParseDuration("50ms"), std::chrono::milliseconds(50));
  EXPECT_EQ(ParseDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(ParseDuration("2"), std::chrono::milliseconds(2000));
  EXPECT_EQ(ParseDuration("1m"), std::chrono::milliseconds(60000));
  EXPECT_FALSE(ParseDuration("fast"));
  EXPECT_FALSE(ParseDuration("-1s"));
  EXPECT_FALSE(ParseDuration(""));
}

}  // namespace
}  // namespace p2p::sandbox
