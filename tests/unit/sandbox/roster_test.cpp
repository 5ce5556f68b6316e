// Spec for sandbox/roster.h: members.csv and expected.json for `p2p-sandbox roster`.
#include "roster.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace p2p::sandbox {
namespace {

namespace fs = std::filesystem;

class RosterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("p2p_roster_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  static std::vector<std::string> Fields(const std::string& row) {
    std::vector<std::string> fields;
    std::istringstream in(row);
    for (std::string f; std::getline(in, f, ',');) fields.push_back(f);
    if (!row.empty() && row.back() == ',') fields.emplace_back();
    return fields;
  }

  fs::path dir_;
};

constexpr SynthOptions kOptions{.seed = 21, .members = 400, .resource_scale = 1};

TEST_F(RosterTest, WritesTheHeaderAndOneRowPerMemberIntoANewDirectory) {
  const fs::path out = dir_ / "nested" / "roster";
  ASSERT_EQ(WriteRoster(kOptions, "bison", out), 0);
  const std::vector<std::string> lines = Lines(Read(out / "members.csv"));
  ASSERT_EQ(lines.size(), 401u);
  EXPECT_EQ(lines[0],
            "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,"
            "new_coverage_id,coverage_start,opt_in_date,consent_start,consent_end,consent_policy");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(out)) {
    files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"expected.json", "members.csv"}));
}

TEST_F(RosterTest, RowsCarryTheNewPayersView) {
  ASSERT_EQ(WriteRoster(kOptions, "bison", dir_), 0);
  const std::vector<std::string> lines = Lines(Read(dir_ / "members.csv"));
  const Synth synth(kOptions);
  EXPECT_EQ(lines[1],
            "M000000000,bison,Jay,Young,2001-03-11,male,17148123-47da-43a0-8401-8d5d1368db02," +
                synth.Member(0).new_coverage_id + "," + synth.Member(0).coverage_start + "," +
                synth.Member(0).opt_in_date + ",2022-01-01,2035-01-31,regular");
  for (uint64_t i = 0; i < 400; ++i) {
    const SynthMember m = synth.Member(i);
    const std::vector<std::string> f = Fields(lines[i + 1]);
    ASSERT_EQ(f.size(), 13u) << lines[i + 1];
    EXPECT_EQ(f, (std::vector<std::string>{m.member_key, "bison", m.given, m.family,
                                           m.roster_birth_date, m.gender, m.coverage_id,
                                           m.new_coverage_id, m.coverage_start, m.opt_in_date,
                                           m.consent_start, m.consent_end, m.consent_policy}));
  }
}

TEST_F(RosterTest, QuotesFieldsOnlyWhenNeeded) {
  ASSERT_EQ(WriteRoster(SynthOptions{.seed = 1, .members = 2}, "bison,\"east\"", dir_), 0);
  const std::vector<std::string> lines = Lines(Read(dir_ / "members.csv"));
  EXPECT_EQ(lines[1].rfind("M000000000,\"bison,\"\"east\"\"\",Jay,Young,", 0), 0u) << lines[1];
}

TEST_F(RosterTest, ExpectedListsOutcomesAndForCompleteMembersExactlyTheirIds) {
  ASSERT_EQ(WriteRoster(kOptions, "bison", dir_), 0);
  const Synth synth(kOptions);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.load((dir_ / "expected.json").string()).get(doc), simdjson::SUCCESS);
  simdjson::dom::array members;
  ASSERT_EQ(doc["members"].get(members), simdjson::SUCCESS);
  ASSERT_EQ(members.size(), 400u);
  uint64_t i = 0;
  std::set<std::string_view> outcomes;
  for (simdjson::dom::element member : members) {
    const SynthMember m = synth.Member(i);
    std::string_view key;
    std::string_view outcome;
    ASSERT_EQ(member["member_key"].get(key), simdjson::SUCCESS);
    ASSERT_EQ(member["outcome"].get(outcome), simdjson::SUCCESS);
    EXPECT_EQ(key, m.member_key);
    outcomes.insert(outcome);
    simdjson::dom::object resources;
    const bool has_resources = member["resources"].get(resources) == simdjson::SUCCESS;
    switch (m.kind) {
      case MemberKind::kNoMatch:
        EXPECT_EQ(outcome, "no_match");
        EXPECT_FALSE(has_resources);
        break;
      case MemberKind::kConsentRefused:
        EXPECT_EQ(outcome, "consent_refused");
        EXPECT_FALSE(has_resources);
        break;
      case MemberKind::kMatch: {
        EXPECT_EQ(outcome, "complete");
        ASSERT_TRUE(has_resources);
        EXPECT_EQ(resources.size(), Synth::Types().size());
        for (std::string_view type : Synth::Types()) {
          simdjson::dom::array ids;
          ASSERT_EQ(resources[type].get(ids), simdjson::SUCCESS) << type;
          std::vector<std::string> got;
          for (simdjson::dom::element id : ids) got.emplace_back(std::string_view(id));
          std::vector<std::string> want;
          for (uint64_t k = 0; k < synth.ResourceCount(i, type); ++k) {
            want.push_back(synth.ResourceId(i, type, k));
          }
          EXPECT_EQ(got, want) << m.member_key << " " << type;
        }
        break;
      }
    }
    ++i;
  }
  EXPECT_EQ(outcomes, (std::set<std::string_view>{"complete", "no_match", "consent_refused"}));
}

TEST_F(RosterTest, OverwritesAnEarlierRoster) {
  ASSERT_EQ(WriteRoster(kOptions, "bison", dir_), 0);
  ASSERT_EQ(WriteRoster(SynthOptions{.seed = 21, .members = 3}, "bison", dir_), 0);
  EXPECT_EQ(Lines(Read(dir_ / "members.csv")).size(), 4u);
}

TEST_F(RosterTest, FailsWithOneLineWhenTheDirectoryCannotBeCreated) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(WriteRoster(kOptions, "bison", dir_ / "file" / "sub"), 1);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "p2p-sandbox roster: cannot create directory " + (dir_ / "file" / "sub").string() +
                ": Not a directory\n");
}

}  // namespace
}  // namespace p2p::sandbox
