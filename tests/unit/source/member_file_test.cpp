#include "source/member_file.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

namespace p2p::source {
namespace {

const std::vector<std::string> kPayers = {"bison", "elk"};

constexpr const char* kHeader =
    "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,"
    "coverage_start,opt_in_date,consent_start,consent_end,consent_policy\r\n";

// A good CSV row for `key`.
std::string Row(const std::string& key, const std::string& payer = "bison") {
  return key + "," + payer +
         ",Patricia Ann,Person,1974-12-25,female,DH1,,2027-01-01,2027-01-03,2027-01-03,"
         "2028-01-03,regular\r\n";
}

// "line: field: reason" per problem, one per line.
std::string Problems(const ParsedMembers& parsed) {
  std::string out;
  for (const RowProblem& p : parsed.problems) {
    out += std::to_string(p.line) + ": " + p.field + ": " + p.reason + "\n";
  }
  return out;
}

std::vector<uint64_t> Lines(const ParsedMembers& parsed) {
  std::vector<uint64_t> lines;
  for (const auto& [line, row] : parsed.rows) lines.push_back(line);
  return lines;
}

TEST(ParseMemberCsv, ReadsGoodRowsWithTheirLineNumbers) {
  const std::string text = std::string(kHeader) + Row("m1") + Row("m2", "elk");
  const ParsedMembers parsed = ParseMemberCsv(text, kPayers);
  EXPECT_EQ(Problems(parsed), "");
  ASSERT_EQ(parsed.rows.size(), 2u);
  EXPECT_EQ(Lines(parsed), (std::vector<uint64_t>{2, 3}));
  const MemberRow& row = parsed.rows[0].second;
  EXPECT_EQ(row.member_key, "m1");
  EXPECT_EQ(row.prior_payer, "bison");
  EXPECT_EQ(row.given, "Patricia Ann");
  EXPECT_EQ(row.family, "Person");
  EXPECT_EQ(row.birth_date, "1974-12-25");
  EXPECT_EQ(row.gender, "female");
  EXPECT_EQ(row.prior_coverage_id, "DH1");
  EXPECT_EQ(row.new_coverage_id, "");
  EXPECT_EQ(row.coverage_start, "2027-01-01");
  EXPECT_EQ(row.opt_in_date, "2027-01-03");
  EXPECT_EQ(row.consent_start, "2027-01-03");
  EXPECT_EQ(row.consent_end, "2028-01-03");
  EXPECT_EQ(row.consent_policy, "regular");
  EXPECT_EQ(parsed.rows[1].second.prior_payer, "elk");
}

TEST(ParseMemberCsv, ColumnsInAnyOrderUnknownIgnoredOptionalMayBeAbsent) {
  const std::string text =
      "\xEF\xBB\xBF"
      "consent_policy,extra,family,given,member_key,prior_payer,birth_date,"
      "prior_coverage_id,coverage_start,opt_in_date,consent_start,consent_end\n"
      "sensitive,whatever,Doe,Jane,k1,elk,1980-01-01,C9,2027-01-01,2027-01-01,2027-01-01,"
      "2027-12-31\n";
  const ParsedMembers parsed = ParseMemberCsv(text, kPayers);
  EXPECT_EQ(Problems(parsed), "");
  ASSERT_EQ(parsed.rows.size(), 1u);
  EXPECT_EQ(parsed.rows[0].second.family, "Doe");
  EXPECT_EQ(parsed.rows[0].second.consent_policy, "sensitive");
  EXPECT_EQ(parsed.rows[0].second.gender, "");
}

TEST(ParseMemberCsv, QuotedFieldsDoubledQuotesAndQuotedNewlines) {
  const std::string text =
      std::string(kHeader) +
      "\"m1\",bison,\"Mary \"\"Jo\"\"\",\"Smith, Jr\",1974-12-25,,\"A\nB\",,2027-01-01,"
      "2027-01-03,2027-01-03,2028-01-03,regular\n" +
      Row("m2");
  const ParsedMembers parsed = ParseMemberCsv(text, kPayers);
  // The first row's coverage id holds a newline: a control character, so it is rejected, and
  // the next row starts on physical line 4.
  EXPECT_EQ(Problems(parsed), "2: prior_coverage_id: contains control characters\n");
  EXPECT_EQ(Lines(parsed), (std::vector<uint64_t>{4}));

  const std::string ok = std::string(kHeader) +
                         "\"m1\",bison,\"Mary \"\"Jo\"\"\",\"Smith, Jr\",1974-12-25,,\"A,B\",,"
                         "2027-01-01,2027-01-03,2027-01-03,2028-01-03,regular";  // no final EOL
  const ParsedMembers parsed_ok = ParseMemberCsv(ok, kPayers);
  EXPECT_EQ(Problems(parsed_ok), "");
  ASSERT_EQ(parsed_ok.rows.size(), 1u);
  EXPECT_EQ(parsed_ok.rows[0].second.given, "Mary \"Jo\"");
  EXPECT_EQ(parsed_ok.rows[0].second.family, "Smith, Jr");
  EXPECT_EQ(parsed_ok.rows[0].second.prior_coverage_id, "A,B");
}

TEST(ParseMemberCsv, MissingRequiredColumnsIsOneProblemAndNoRows) {
  const std::string text =
      "member_key,prior_payer,given,gender,prior_coverage_id,coverage_start,opt_in_date,"
      "consent_start,consent_end,consent_policy\n" +
      Row("m1");
  const ParsedMembers parsed = ParseMemberCsv(text, kPayers);
  EXPECT_EQ(Problems(parsed), "1: : missing columns: family, birth_date\n");
  EXPECT_TRUE(parsed.rows.empty());
}

TEST(ParseMemberCsv, EmptyFileAndHeaderOnly) {
  EXPECT_EQ(Problems(ParseMemberCsv("", kPayers)), "0: : empty file\n");
  EXPECT_EQ(Problems(ParseMemberCsv("\n\r\n", kPayers)), "0: : empty file\n");
  const ParsedMembers header_only = ParseMemberCsv(kHeader, kPayers);
  EXPECT_EQ(Problems(header_only), "");
  EXPECT_TRUE(header_only.rows.empty());
}

TEST(ParseMemberCsv, RowProblemsDoNotStopTheFile) {
  const std::string long_name(70 * 1024, 'x');
  const std::string text =
      std::string(kHeader) + Row("m1") +                                    // 2 good
      "m2,bison,too,few\n" +                                                // 3
      "m3,bison,Ann,Lee,1974-12-25,,C1,,2027-01-01,2027-01-03,2027-01-03,"  // 4 bad UTF-8
      "2028-01-03,regular\xFF\n" +
      "m4,bison,\"A\"x,Lee,1974-12-25,,C1,,2027-01-01,2027-01-03,2027-01-03,"  // 5 quoting
      "2028-01-03,regular\n" +
      "m5,bison," + long_name +
      ",Lee,1974-12-25,,C1,,2027-01-01,2027-01-03,2027-01-03,"  // 6
      "2028-01-03,regular\n" +
      "m6,moose,Ann,Lee,1974-12-25,,C1,,2027-01-01,2027-01-03,2027-01-03,"  // 7 unknown payer
      "2028-01-03,regular\n" +
      "\n" +                              // 8 blank: skipped
      Row("m7") +                         // 9 good
      "m8,bison,\"Ann,Lee,1974-12-25\n";  // 10 unterminated
  const ParsedMembers parsed = ParseMemberCsv(text, kPayers);
  EXPECT_EQ(Problems(parsed),
            "3: : expected 13 fields, found 4\n"
            "4: consent_policy: not valid UTF-8\n"
            "5: : malformed quoting\n"
            "6: : row longer than 64 KiB\n"
            "7: prior_payer: not a configured payer id\n"
            "10: : unterminated quoted field\n");
  EXPECT_EQ(Lines(parsed), (std::vector<uint64_t>{2, 9}));
}

TEST(ParseMemberCsv, DuplicateMemberAndPayerKeepsTheFirst) {
  const std::string text =
      std::string(kHeader) + Row("m1") + Row("m1", "elk") + Row("m2") + Row("m1") + Row("m1");
  const ParsedMembers parsed = ParseMemberCsv(text, kPayers);
  EXPECT_EQ(Problems(parsed), "5: : duplicate of line 2\n6: : duplicate of line 2\n");
  EXPECT_EQ(Lines(parsed), (std::vector<uint64_t>{2, 3, 4}));
}

TEST(ParseMemberCsv, AnInvalidFirstRowDoesNotMakeTheNextADuplicate) {
  const std::string bad =
      "m1,bison,Ann,Lee,1974-13-25,,C1,,2027-01-01,2027-01-03,2027-01-03,2028-01-03,regular\n";
  const ParsedMembers parsed = ParseMemberCsv(std::string(kHeader) + bad + Row("m1"), kPayers);
  EXPECT_EQ(Problems(parsed), "2: birth_date: must be a date YYYY-MM-DD\n");
  EXPECT_EQ(Lines(parsed), (std::vector<uint64_t>{3}));
}

constexpr const char* kJsonRow =
    R"({"member_key":"m1","prior_payer":"bison","given":"Patricia Ann","family":"Person",)"
    R"("birth_date":"1974-12-25","gender":"female","prior_coverage_id":"DH1",)"
    R"("coverage_start":"2027-01-01","opt_in_date":"2027-01-03","consent_start":"2027-01-03",)"
    R"("consent_end":"2028-01-03","consent_policy":"regular","ignored":42})";

std::string JsonRow(const std::string& key) {
  std::string row = kJsonRow;
  row.replace(row.find("\"m1\""), 4, "\"" + key + "\"");
  return row;
}

TEST(ParseMemberNdjson, ReadsObjectsWithTheSameFields) {
  const std::string text = JsonRow("m1") + "\r\n\n" + JsonRow("m2") + "\n";
  const ParsedMembers parsed = ParseMemberNdjson(text, kPayers);
  EXPECT_EQ(Problems(parsed), "");
  EXPECT_EQ(Lines(parsed), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(parsed.rows[1].second.member_key, "m2");
  EXPECT_EQ(parsed.rows[0].second.given, "Patricia Ann");
  EXPECT_EQ(parsed.rows[0].second.consent_end, "2028-01-03");
}

TEST(ParseMemberNdjson, BadLinesAreRowProblems) {
  std::string wrong_type = JsonRow("m5");
  wrong_type.replace(wrong_type.find("\"female\""), 8, "7");
  std::string no_family = JsonRow("m6");
  no_family.replace(no_family.find("\"family\""), 8, "\"fam\"");
  const std::string text = JsonRow("m1") + "\n" +                                // 1
                           "[1,2]\n" +                                           // 2
                           "{\"member_key\":\n" +                                // 3
                           "{\"given\":\"\xFF\"}\n" +                            // 4
                           wrong_type + "\n" +                                   // 5
                           no_family + "\n" +                                    // 6
                           JsonRow("m1") + "\n" +                                // 7
                           "{\"x\":\"" + std::string(70 * 1024, 'x') + "\"}\n";  // 8
  const ParsedMembers parsed = ParseMemberNdjson(text, kPayers);
  EXPECT_EQ(Problems(parsed),
            "2: : not a JSON object\n"
            "3: : not valid JSON\n"
            "4: : not valid UTF-8\n"
            "5: gender: must be a string\n"
            "6: family: required\n"
            "7: : duplicate of line 1\n"
            "8: : row longer than 64 KiB\n");
  EXPECT_EQ(Lines(parsed), (std::vector<uint64_t>{1}));
}

TEST(ParseMemberNdjson, EmptyFile) {
  EXPECT_EQ(Problems(ParseMemberNdjson("", kPayers)), "0: : empty file\n");
  EXPECT_EQ(Problems(ParseMemberNdjson("\n  \n", kPayers)), "0: : empty file\n");
}

// The $member-match body from core/member.h, parsed back with simdjson (test_core links the
// standard library only, so the parse-back lives here).
MemberRow AwkwardRow() {
  MemberRow row;
  row.member_key = "m-0001";
  row.prior_payer = "bison";
  row.given = "  Anne-Marie  \"Q\"  Zoë ";
  row.family = "O'Brien\\Smith\x01";
  row.birth_date = "1974-12-25";
  row.prior_coverage_id = "DH10001235";
  row.new_coverage_id = "NEW\"42";
  row.coverage_start = "2027-01-01";
  row.opt_in_date = "2027-01-03";
  row.consent_start = "2027-01-03";
  row.consent_end = "2028-01-03";
  row.consent_policy = "sensitive";
  return row;
}

// Finds parameter `name` in the parsed Parameters.
simdjson::dom::element Param(simdjson::dom::element doc, std::string_view name) {
  for (simdjson::dom::element p : doc["parameter"].get_array()) {
    if (p["name"].get_string().value() == name) return p["resource"].value();
  }
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

TEST(BuildMemberMatchBody, ParsesBackWithLinkSensitivePolicyAndAwkwardText) {
  const MemberRow row = AwkwardRow();
  const std::string body = BuildMemberMatchBody(row);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body;
  EXPECT_EQ(doc["parameter"].get_array().size(), 4u);

  const auto patient = Param(doc, "MemberPatient");
  EXPECT_EQ(patient["name"].at(0)["family"].get_string().value(), "O'Brien\\Smith\x01");
  auto given = patient["name"].at(0)["given"].get_array().value();
  ASSERT_EQ(given.size(), 3u);
  EXPECT_EQ(given.at(0).get_string().value(), "Anne-Marie");
  EXPECT_EQ(given.at(1).get_string().value(), "\"Q\"");
  EXPECT_EQ(given.at(2).get_string().value(), "Zoë");
  EXPECT_EQ(patient["gender"].error(), simdjson::NO_SUCH_FIELD);

  const auto link = Param(doc, "CoverageToLink");
  EXPECT_EQ(link["id"].get_string().value(), "coverage-to-link");
  EXPECT_EQ(link["identifier"].at(0)["value"].get_string().value(), "NEW\"42");
  EXPECT_EQ(link["beneficiary"]["reference"].get_string().value(), "Patient/member");

  const auto consent = Param(doc, "Consent");
  EXPECT_EQ(consent["policy"].at(0)["uri"].get_string().value(),
            "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#sensitive");
  EXPECT_EQ(consent["provision"]["period"]["end"].get_string().value(), "2028-01-03");
}

}  // namespace
}  // namespace p2p::source
