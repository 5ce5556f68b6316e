// The member-source part of the bad-input catalogue (index: tests/integration/bad_input_test.cpp):
// each case's exact reason, and that the file's other rows go on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "source/directory_source.h"
#include "source/member_file.h"
#include "support/temp_dir.h"

namespace p2p::source {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPayers = {"bison"};

constexpr const char* kHeader =
    "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,"
    "coverage_start,opt_in_date,consent_start,consent_end,consent_policy\n";

// A CSV row for `key` with each field as given (defaults: a good row).
struct RowSpec {
  std::string key = "m1";
  std::string payer = "bison";
  std::string given = "Ann";
  std::string birth_date = "1974-12-25";
  std::string coverage_start = "2027-01-01";
  std::string consent_start = "2027-01-03";
  std::string consent_end = "2028-01-03";
};
std::string Row(const RowSpec& r) {
  return r.key + "," + r.payer + "," + r.given + ",Lee," + r.birth_date + ",,C1,," +
         r.coverage_start + ",2027-01-03," + r.consent_start + "," + r.consent_end + ",regular\n";
}
std::string Row(const std::string& key) {
  RowSpec r;
  r.key = key;
  return Row(r);
}

// "line: field: reason" per problem; then the good rows' keys.
std::string Outcome(const ParsedMembers& parsed) {
  std::string out;
  for (const RowProblem& p : parsed.problems) {
    out += std::to_string(p.line) + ": " + p.field + ": " + p.reason + "\n";
  }
  out += "rows:";
  for (const auto& [line, row] : parsed.rows) out += " " + row.member_key;
  return out;
}

TEST(MemberSourceCatalogue, MissingColumns) {
  EXPECT_EQ(Outcome(ParseMemberCsv("member_key,prior_payer,given,family,birth_date\n"
                                   "m1,bison,Ann,Lee,1974-12-25\n",
                                   kPayers)),
            "1: : missing columns: prior_coverage_id, coverage_start, opt_in_date, "
            "consent_start, consent_end, consent_policy\nrows:");
}

TEST(MemberSourceCatalogue, BadDates) {
  RowSpec feb30, word, slashes;
  feb30.key = "m2";
  feb30.birth_date = "1974-02-30";
  word.key = "m3";
  word.coverage_start = "soon";
  slashes.key = "m4";
  slashes.consent_end = "2028/01/03";
  EXPECT_EQ(Outcome(ParseMemberCsv(std::string(kHeader) + Row("m1") + Row(feb30) + Row(word) +
                                       Row(slashes) + Row("m5"),
                                   kPayers)),
            "3: birth_date: must be a date YYYY-MM-DD\n"
            "4: coverage_start: must be a date YYYY-MM-DD\n"
            "5: consent_end: must be a date YYYY-MM-DD\n"
            "rows: m1 m5");
}

TEST(MemberSourceCatalogue, ConsentEndBeforeStart) {
  RowSpec r;
  r.key = "m2";
  r.consent_end = "2027-01-02";
  EXPECT_EQ(Outcome(ParseMemberCsv(std::string(kHeader) + Row(r) + Row("m1"), kPayers)),
            "2: consent_end: before consent_start\nrows: m1");
}

TEST(MemberSourceCatalogue, UnknownPriorPayer) {
  RowSpec r;
  r.key = "m2";
  r.payer = "otter";
  EXPECT_EQ(Outcome(ParseMemberCsv(std::string(kHeader) + Row(r) + Row("m1"), kPayers)),
            "2: prior_payer: not a configured payer id\nrows: m1");
}

TEST(MemberSourceCatalogue, InvalidUtf8) {
  RowSpec r;
  r.key = "m2";
  r.given = "An\xc3\x28";
  EXPECT_EQ(Outcome(ParseMemberCsv(std::string(kHeader) + Row(r) + Row("m1"), kPayers)),
            "2: given: not valid UTF-8\nrows: m1");
  EXPECT_EQ(Outcome(ParseMemberNdjson("{\"member_key\":\"m2\",\"given\":\"\xff\"}\n", kPayers)),
            "1: : not valid UTF-8\nrows:");
}

TEST(MemberSourceCatalogue, TenMegabyteLine) {
  RowSpec r;
  r.key = "m2";
  r.given = std::string(10 * 1000 * 1000, 'a');
  EXPECT_EQ(Outcome(ParseMemberCsv(std::string(kHeader) + Row(r) + Row("m1"), kPayers)),
            "2: : row longer than 64 KiB\nrows: m1");
  EXPECT_EQ(Outcome(ParseMemberNdjson(
                R"({"member_key":"m2","given":")" + std::string(10 * 1000 * 1000, 'a') + "\"}\n",
                kPayers)),
            "1: : row longer than 64 KiB\nrows:");
}

TEST(MemberSourceCatalogue, EmptyFile) {
  EXPECT_EQ(Outcome(ParseMemberCsv("", kPayers)), "0: : empty file\nrows:");
  EXPECT_EQ(Outcome(ParseMemberCsv("\n\r\n", kPayers)), "0: : empty file\nrows:");
  EXPECT_EQ(Outcome(ParseMemberNdjson("", kPayers)), "0: : empty file\nrows:");
}

TEST(MemberSourceCatalogue, HeaderOnly) {
  // A header and no rows is a valid, empty batch: no problem, nothing to take in.
  EXPECT_EQ(Outcome(ParseMemberCsv(kHeader, kPayers)), "rows:");
}

TEST(MemberSourceCatalogue, DuplicateRows) {
  EXPECT_EQ(Outcome(ParseMemberCsv(
                std::string(kHeader) + Row("m1") + Row("m2") + Row("m1") + Row("m1"), kPayers)),
            "4: : duplicate of line 2\n5: : duplicate of line 2\nrows: m1 m2");
}

TEST(MemberSourceCatalogue, FileStillBeingWrittenIsNotListed) {
  p2p::testing::TempDir dir;
  SourceOptions options;
  options.path = (dir.path() / "inbox").string();
  DirectorySource source(options, kPayers, "a");
  ASSERT_TRUE(source.Prepare().ok());
  const fs::path file = dir.path() / "inbox" / "members.csv";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  const std::string half = std::string(kHeader) + "m1,bison,An";
  ASSERT_EQ(::write(fd, half.data(), half.size()), static_cast<ssize_t>(half.size()));
  auto ready = source.ListReady();
  ASSERT_TRUE(ready.ok());
  EXPECT_TRUE(ready->empty());
  // Also while a reader (another process, or us) has it open read-only: only writers count.
  const int reader = ::open(file.c_str(), O_RDONLY);
  ::close(reader);
  ::close(fd);
  ready = source.ListReady();
  ASSERT_TRUE(ready.ok());
  ASSERT_EQ(ready->size(), 1u);
  EXPECT_EQ((*ready)[0].filename(), "members.csv");
}

}  // namespace
}  // namespace p2p::source
