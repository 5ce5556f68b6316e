#include "core/member.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace p2p {
namespace {

MemberRow GoodRow() {
  MemberRow row;
  row.member_key = "m-0001";
  row.prior_payer = "bison";
  row.given = "Patricia Ann";
  row.family = "Person";
  row.birth_date = "1974-12-25";
  row.gender = "female";
  row.prior_coverage_id = "DH10001235";
  row.new_coverage_id = "";
  row.coverage_start = "2027-01-01";
  row.opt_in_date = "2027-01-03";
  row.consent_start = "2027-01-03";
  row.consent_end = "2028-01-03";
  row.consent_policy = "regular";
  return row;
}

const std::vector<std::string> kPayers = {"bison", "elk"};

std::string Problems(const MemberRow& row) {
  std::vector<RowProblem> problems;
  const bool ok = ValidateMemberRow(row, 7, kPayers, problems);
  std::string out;
  for (const RowProblem& p : problems) {
    EXPECT_EQ(p.line, 7u);
    out += p.field + ": " + p.reason + "\n";
  }
  EXPECT_EQ(ok, problems.empty());
  return out;
}

TEST(MemberColumns, FixedOrder) {
  const std::vector<std::string_view> expected = {
      "member_key",    "prior_payer",       "given",           "family",         "birth_date",
      "gender",        "prior_coverage_id", "new_coverage_id", "coverage_start", "opt_in_date",
      "consent_start", "consent_end",       "consent_policy"};
  EXPECT_EQ(MemberColumns(), expected);
}

TEST(ValidateMemberRow, AcceptsAGoodRow) {
  EXPECT_EQ(Problems(GoodRow()), "");
  MemberRow row = GoodRow();
  row.gender = "";
  row.new_coverage_id = "NEW-1";
  row.consent_policy = "sensitive";
  row.consent_end = row.consent_start;  // a one-day consent is fine
  row.given = "Zoë Ångström";
  row.member_key = std::string(128, 'k');
  EXPECT_EQ(Problems(row), "");
}

struct Case {
  const char* name;
  void (*mutate)(MemberRow&);
  const char* problems;
};

TEST(ValidateMemberRow, ReportsEachProblemWithoutQuotingTheValue) {
  const Case cases[] = {
      {"empty key", [](MemberRow& r) { r.member_key = ""; }, "member_key: required\n"},
      {"key charset", [](MemberRow& r) { r.member_key = "a b"; },
       "member_key: must be 1..128 characters of A-Z a-z 0-9 . _ -\n"},
      {"key length", [](MemberRow& r) { r.member_key = std::string(129, 'k'); },
       "member_key: must be 1..128 characters of A-Z a-z 0-9 . _ -\n"},
      {"no payer", [](MemberRow& r) { r.prior_payer = ""; }, "prior_payer: required\n"},
      {"unknown payer", [](MemberRow& r) { r.prior_payer = "moose"; },
       "prior_payer: not a configured payer id\n"},
      {"no given", [](MemberRow& r) { r.given = ""; }, "given: required\n"},
      {"blank given", [](MemberRow& r) { r.given = "   "; }, "given: required\n"},
      {"no family", [](MemberRow& r) { r.family = ""; }, "family: required\n"},
      {"long family", [](MemberRow& r) { r.family = std::string(201, 'x'); },
       "family: longer than 200 bytes\n"},
      {"bad utf-8", [](MemberRow& r) { r.given = "Jos\xE9"; }, "given: not valid UTF-8\n"},
      {"overlong utf-8", [](MemberRow& r) { r.family = "\xC0\xAF"; }, "family: not valid UTF-8\n"},
      {"control char", [](MemberRow& r) { r.family = "Per\nson"; },
       "family: contains control characters\n"},
      {"no birth date", [](MemberRow& r) { r.birth_date = ""; }, "birth_date: required\n"},
      {"bad birth date", [](MemberRow& r) { r.birth_date = "12/25/1974"; },
       "birth_date: must be a date YYYY-MM-DD\n"},
      {"impossible date", [](MemberRow& r) { r.coverage_start = "2027-02-30"; },
       "coverage_start: must be a date YYYY-MM-DD\n"},
      {"opt in", [](MemberRow& r) { r.opt_in_date = "2027-1-3"; },
       "opt_in_date: must be a date YYYY-MM-DD\n"},
      {"consent order", [](MemberRow& r) { r.consent_end = "2027-01-02"; },
       "consent_end: before consent_start\n"},
      {"bad consent start", [](MemberRow& r) { r.consent_start = "x"; },
       "consent_start: must be a date YYYY-MM-DD\n"},
      {"gender", [](MemberRow& r) { r.gender = "F"; },
       "gender: must be male, female, other or unknown\n"},
      {"no coverage id", [](MemberRow& r) { r.prior_coverage_id = ""; },
       "prior_coverage_id: required\n"},
      {"long coverage id", [](MemberRow& r) { r.prior_coverage_id = std::string(129, '9'); },
       "prior_coverage_id: longer than 128 bytes\n"},
      {"long new coverage id", [](MemberRow& r) { r.new_coverage_id = std::string(129, '9'); },
       "new_coverage_id: longer than 128 bytes\n"},
      {"no policy", [](MemberRow& r) { r.consent_policy = ""; }, "consent_policy: required\n"},
      {"policy", [](MemberRow& r) { r.consent_policy = "Regular"; },
       "consent_policy: must be regular or sensitive\n"},
      {"several at once",
       [](MemberRow& r) {
         r.member_key = "";
         r.family = "";
         r.consent_end = "never";
       },
       "member_key: required\nfamily: required\nconsent_end: must be a date YYYY-MM-DD\n"},
  };
  for (const Case& c : cases) {
    MemberRow row = GoodRow();
    c.mutate(row);
    EXPECT_EQ(Problems(row), c.problems) << c.name;
  }
}

TEST(AppendJsonString, EscapesQuotesBackslashesAndControlCharacters) {
  std::string out;
  AppendJsonString(out, std::string_view("a\"b\\c\n\t\x01\x1f\x7f/\0z", 13));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\u000a\\u0009\\u0001\\u001f\x7f/\\u0000z\"");
}

TEST(AppendJsonString, KeepsUtf8AndReplacesInvalidBytes) {
  std::string out;
  AppendJsonString(out, "Zoë 😀");
  EXPECT_EQ(out, "\"Zoë 😀\"");
  out.clear();
  AppendJsonString(out,
                   "a\xFF"
                   "b\xE2\x82");
  EXPECT_EQ(out, "\"a\\ufffdb\\ufffd\\ufffd\"");
}

constexpr const char* kExpectedBody =
    R"({"resourceType":"Parameters","parameter":[)"
    R"({"name":"MemberPatient","resource":{"resourceType":"Patient","id":"member",)"
    R"("name":[{"family":"Person","given":["Patricia","Ann"]}],"gender":"female",)"
    R"("birthDate":"1974-12-25"}},)"
    R"({"name":"CoverageToMatch","resource":{"resourceType":"Coverage","id":"coverage-to-match",)"
    R"("status":"active","identifier":[{"value":"DH10001235"}],)"
    R"("beneficiary":{"reference":"Patient/member"},"payor":[{"display":"prior payer"}]}},)"
    R"({"name":"Consent","resource":{"resourceType":"Consent","id":"consent","status":"active",)"
    R"("scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope",)"
    R"("code":"patient-privacy"}]},)"
    R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode",)"
    R"("code":"IDSCL"}]}],"patient":{"reference":"Patient/member"},)"
    R"("policy":[{"uri":"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular"}],)"
    R"("provision":{"type":"permit","period":{"start":"2027-01-03","end":"2028-01-03"}}}}]})";

TEST(BuildMemberMatchBody, ExactBodyForAFixedRow) {
  EXPECT_EQ(BuildMemberMatchBody(GoodRow()), kExpectedBody);
}

}  // namespace
}  // namespace p2p
