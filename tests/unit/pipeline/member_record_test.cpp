#include "pipeline/member_record.h"

#include <gtest/gtest.h>

namespace p2p::pipeline {
namespace {

TEST(MemberRecord, RoundTripsEveryFieldIncludingQuotesAndUnicode) {
  MemberRow row;
  row.member_key = "M1";
  row.prior_payer = "bison";
  row.given = "Zoë \"Jo\"";
  row.family = "O'Brien\\x";
  row.birth_date = "2001-03-11";
  row.gender = "female";
  row.prior_coverage_id = "17148123-47da-43a0-8401-8d5d1368db02";
  row.new_coverage_id = "";
  row.coverage_start = "2027-01-01";
  row.opt_in_date = "2027-01-02";
  row.consent_start = "2026-12-01";
  row.consent_end = "2035-01-31";
  row.consent_policy = "sensitive";
  auto back = DecodeMemberRow(EncodeMemberRow(row));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->given, row.given);
  EXPECT_EQ(back->family, row.family);
  EXPECT_EQ(back->prior_coverage_id, row.prior_coverage_id);
  EXPECT_EQ(back->consent_policy, "sensitive");
  EXPECT_EQ(back->new_coverage_id, "");
  EXPECT_EQ(back->consent_end, "2035-01-31");
}

TEST(MemberRecord, RejectsGarbageWithoutQuotingIt) {
  auto r = DecodeMemberRow("{not json Jay Young");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "stored member row is not JSON");
}

}  // namespace
}  // namespace p2p::pipeline
