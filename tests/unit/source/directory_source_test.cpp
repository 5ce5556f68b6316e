#include "source/directory_source.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "support/temp_dir.h"

namespace p2p::source {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHeader =
    "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,"
    "coverage_start,opt_in_date,consent_start,consent_end,consent_policy\n";
constexpr const char* kRow =
    "m1,bison,Ann,Lee,1974-12-25,,C1,,2027-01-01,2027-01-03,2027-01-03,2028-01-03,regular\n";

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DirectorySourceTest : public ::testing::Test {
 protected:
  DirectorySourceTest() : inbox_(dir_.path() / "inbox"), source_(Options(), {"bison"}) {}

  SourceOptions Options() const {
    SourceOptions options;
    options.path = (dir_.path() / "inbox").string();
    return options;
  }

  std::vector<std::string> ReadyNames() {
    auto ready = source_.ListReady();
    EXPECT_TRUE(ready.ok());
    std::vector<std::string> names;
    if (ready.ok()) {
      for (const fs::path& p : *ready) names.push_back(p.filename().string());
    }
    return names;
  }

  p2p::testing::TempDir dir_;
  fs::path inbox_;
  DirectorySource source_;
};

TEST_F(DirectorySourceTest, PrepareCreatesPrivateDirectories) {
  ASSERT_TRUE(source_.Prepare().ok());
  for (const fs::path& d : {inbox_ / "processed", inbox_ / "rejected"}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }
  EXPECT_EQ(source_.processed_dir(), inbox_ / "processed");
  EXPECT_EQ(source_.rejected_dir(), inbox_ / "rejected");
  EXPECT_TRUE(source_.Prepare().ok());  // again: nothing to do
}

TEST_F(DirectorySourceTest, PrepareFailsWhenPathIsAFile) {
  WriteFile(dir_.path() / "file", "x");
  SourceOptions options;
  options.path = (dir_.path() / "file").string();
  DirectorySource source(options, {"bison"});
  const Result<void> r = source.Prepare();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kIo);
}

TEST_F(DirectorySourceTest, ListsOnlyFinishedMemberFilesInNameOrder) {
  ASSERT_TRUE(source_.Prepare().ok());
  for (const char* name : {"b.csv", "a.ndjson", "c.csv", ".hidden.csv", "~lock.csv", "x.csv.tmp",
                           "y.csv.part", "z.tmp", "notes.txt", "README"}) {
    WriteFile(inbox_ / name, kHeader);
  }
  fs::create_directory(inbox_ / "sub.csv");
  WriteFile(inbox_ / "processed" / "old.csv", kHeader);
  EXPECT_EQ(ReadyNames(), (std::vector<std::string>{"a.ndjson", "b.csv", "c.csv"}));
}

TEST_F(DirectorySourceTest, ReadDecodesByExtension) {
  ASSERT_TRUE(source_.Prepare().ok());
  WriteFile(inbox_ / "m.csv", std::string(kHeader) + kRow);
  WriteFile(inbox_ / "m.ndjson",
            R"({"member_key":"m2","prior_payer":"bison","given":"Ann","family":"Lee",)"
            R"("birth_date":"1974-12-25","prior_coverage_id":"C1","coverage_start":"2027-01-01",)"
            R"("opt_in_date":"2027-01-03","consent_start":"2027-01-03","consent_end":"2028-01-03",)"
            R"("consent_policy":"regular"})"
            "\n");
  auto csv = source_.Read(inbox_ / "m.csv");
  ASSERT_TRUE(csv.ok());
  ASSERT_EQ(csv->rows.size(), 1u);
  EXPECT_EQ(csv->rows[0].second.member_key, "m1");
  auto nd = source_.Read(inbox_ / "m.ndjson");
  ASSERT_TRUE(nd.ok());
  ASSERT_EQ(nd->rows.size(), 1u);
  EXPECT_EQ(nd->rows[0].second.member_key, "m2");
}

TEST_F(DirectorySourceTest, ReadRejectsAFileOverOneGibWhole) {
  ASSERT_TRUE(source_.Prepare().ok());
  const fs::path big = inbox_ / "big.csv";
  WriteFile(big, kHeader);
  fs::resize_file(big, (uintmax_t{1} << 30) + 1);  // sparse: no real disk use
  auto parsed = source_.Read(big);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->rows.empty());
  ASSERT_EQ(parsed->problems.size(), 1u);
  EXPECT_EQ(parsed->problems[0].line, 0u);
  EXPECT_EQ(parsed->problems[0].reason, "file larger than 1 GiB");
}

TEST_F(DirectorySourceTest, ReadOfAMissingFileIsAnIoError) {
  ASSERT_TRUE(source_.Prepare().ok());
  auto parsed = source_.Read(inbox_ / "gone.csv");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().kind, ErrorKind::kIo);
}

TEST_F(DirectorySourceTest, FinishWritesErrorsAndMovesTheFile) {
  ASSERT_TRUE(source_.Prepare().ok());
  const std::string text = std::string(kHeader) + kRow +
                           "m2,moose,Ann,Lee,1974-12-25,,C1,,2027-01-01,2027-01-03,2027-01-03,"
                           "2028-01-03,regular\n" +
                           kRow;
  WriteFile(inbox_ / "in.csv", text);
  auto parsed = source_.Read(inbox_ / "in.csv");
  ASSERT_TRUE(parsed.ok());
  ASSERT_TRUE(source_.Finish(inbox_ / "in.csv", *parsed).ok());

  EXPECT_FALSE(fs::exists(inbox_ / "in.csv"));
  EXPECT_EQ(ReadFile(inbox_ / "processed" / "in.csv"), text);
  const fs::path errors = inbox_ / "rejected" / "in.csv.errors";
  EXPECT_EQ(ReadFile(errors),
            "in.csv:3: prior_payer: not a configured payer id\n"
            "in.csv:4: duplicate of line 2\n");
  struct stat st {};
  ASSERT_EQ(::stat(errors.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(inbox_ / "rejected" / "in.csv.errors.tmp"));
  EXPECT_TRUE(ReadyNames().empty());

  // Called again for the file already moved: nothing happens.
  EXPECT_TRUE(source_.Finish(inbox_ / "in.csv", *parsed).ok());
  EXPECT_FALSE(fs::exists(inbox_ / "processed" / "in.csv.1"));
}

TEST_F(DirectorySourceTest, FinishWithoutProblemsWritesNoErrorsFile) {
  ASSERT_TRUE(source_.Prepare().ok());
  WriteFile(inbox_ / "ok.csv", std::string(kHeader) + kRow);
  auto parsed = source_.Read(inbox_ / "ok.csv");
  ASSERT_TRUE(parsed.ok());
  ASSERT_TRUE(source_.Finish(inbox_ / "ok.csv", *parsed).ok());
  EXPECT_TRUE(fs::exists(inbox_ / "processed" / "ok.csv"));
  EXPECT_TRUE(fs::is_empty(inbox_ / "rejected"));
}

TEST_F(DirectorySourceTest, ANameAlreadyProcessedGetsANumericSuffix) {
  ASSERT_TRUE(source_.Prepare().ok());
  for (int i = 0; i < 3; ++i) {
    WriteFile(inbox_ / "same.csv", std::string(kHeader) + "drop " + std::to_string(i) + "\n");
    auto parsed = source_.Read(inbox_ / "same.csv");
    ASSERT_TRUE(parsed.ok());
    ASSERT_TRUE(source_.Finish(inbox_ / "same.csv", *parsed).ok());
  }
  EXPECT_EQ(ReadFile(inbox_ / "processed" / "same.csv"), std::string(kHeader) + "drop 0\n");
  EXPECT_EQ(ReadFile(inbox_ / "processed" / "same.csv.1"), std::string(kHeader) + "drop 1\n");
  EXPECT_EQ(ReadFile(inbox_ / "processed" / "same.csv.2"), std::string(kHeader) + "drop 2\n");
  EXPECT_EQ(ReadFile(inbox_ / "rejected" / "same.csv.2.errors"),
            "same.csv:2: expected 13 fields, found 1\n");
}

}  // namespace
}  // namespace p2p::source
