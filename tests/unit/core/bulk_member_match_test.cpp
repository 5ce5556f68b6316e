// core/bulk_member_match.h: the $bulk-member-match request body.
#include "core/bulk_member_match.h"

#include <gtest/gtest.h>

namespace p2p {
namespace {

MemberRow Row(const std::string& family, const std::string& link) {
  MemberRow r;
  r.member_key = "K1";
  r.prior_payer = "bison";
  r.given = "Jay";
  r.family = family;
  r.birth_date = "2001-03-11";
  r.prior_coverage_id = "cov-1";
  r.new_coverage_id = link;
  r.coverage_start = "2026-01-01";
  r.opt_in_date = "2026-01-01";
  r.consent_start = "2026-01-01";
  r.consent_end = "2027-01-01";
  r.consent_policy = "regular";
  return r;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = 0; (p = s.find(what, p)) != std::string::npos; p += what.size()) ++n;
  return n;
}

TEST(BuildBulkMemberMatchBody, OneMemberBundleWithTheMemberMatchPartsPerMember) {
  const std::string body =
      BuildBulkMemberMatchBody({{"m1", Row("Young", "")}, {"m2", Row("Old", "new-9")}});
  EXPECT_EQ(
      body.rfind(R"({"resourceType":"Parameters","parameter":[{"name":"MemberBundle","part":[)", 0),
      0u);
  EXPECT_EQ(Count(body, R"("name":"MemberBundle")"), 2u);
  EXPECT_EQ(Count(body, R"("name":"MemberPatient")"), 2u);
  EXPECT_EQ(Count(body, R"("name":"CoverageToMatch")"), 2u);
  EXPECT_EQ(Count(body, R"("name":"CoverageToLink")"), 1u);
  EXPECT_EQ(Count(body, R"("name":"Consent")"), 2u);
  // Each MemberPatient carries its ref as id and identifier; its references follow it.
  EXPECT_NE(
      body.find(
          R"("resourceType":"Patient","id":"m1","identifier":[{"system":"urn:p2p-ingest:bulk-member","value":"m1"}])"),
      std::string::npos);
  EXPECT_NE(
      body.find(
          R"("resourceType":"Patient","id":"m2","identifier":[{"system":"urn:p2p-ingest:bulk-member","value":"m2"}])"),
      std::string::npos);
  EXPECT_EQ(Count(body, R"("Patient/m1")"), 2u);  // CoverageToMatch.beneficiary, Consent.patient
  EXPECT_EQ(Count(body, R"("Patient/m2")"), 3u);  // and CoverageToLink.beneficiary
  EXPECT_EQ(Count(body, "Patient/member"), 0u);
  EXPECT_EQ(body.substr(body.size() - 4), "]}]}");
}

TEST(BulkMemberRef, IsTheJobIdBehindAnM) { EXPECT_EQ(BulkMemberRef(42), "m42"); }

}  // namespace
}  // namespace p2p
