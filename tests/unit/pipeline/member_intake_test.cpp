// Streaming member intake (pipeline/member_intake.h) on a real SQLite state DB with the real
// migrations: committed batches, and a crash between two batches that resumes without a double
// job, a lost row, or a lost problem report.
#include "pipeline/member_intake.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/job_state.h"
#include "support/temp_dir.h"

namespace p2p::pipeline {
namespace {

bool IsRow(const Result<bool>& r) { return r.ok() && *r; }

namespace fs = std::filesystem;

constexpr const char* kHeader =
    "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,"
    "coverage_start,opt_in_date,consent_start,consent_end,consent_policy,consent_revoked\n";
constexpr int64_t kNowMs = 1798761600000;  // 2027-01-01

std::string Row(const std::string& key, const std::string& payer = "bison",
                const std::string& revoked = "false") {
  return key + "," + payer +
         ",Ann,Lee,1974-12-25,,C1,,2027-01-01,2027-01-03,2026-12-01,2028-01-03,regular," +
         revoked + "\n";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t Count(state::StateDb& db, const std::string& sql) {
  auto st = state::Stmt::Prepare(db.handle(), sql);
  EXPECT_TRUE(st) << sql;
  int64_t n = -1;
  if (st && IsRow(st->Step("count"))) n = st->Int(0);
  return n;
}

class MemberIntakeTest : public ::testing::Test {
 protected:
  MemberIntakeTest() : inbox_(dir_.path() / "inbox"), source_(Options(), {"bison"}, "a") {
    EXPECT_TRUE(source_.Prepare());
    auto db = state::StateDb::Open(dir_.File("state.db"));
    EXPECT_TRUE(db) << db.error().message;
    db_ = std::move(db).value();
  }
  SourceOptions Options() const {
    SourceOptions options;
    options.path = inbox_.string();
    return options;
  }
  // 26 members m1..m26 (m2 revoked on the last line), a bad row at line 8 and a duplicate
  // of m3 (line 4) at line 20: with batches of 5, the duplicate is met after the crash.
  fs::path WriteMembers() {
    std::string text = kHeader;
    int key = 0;
    for (int line = 2; line <= 29; ++line) {
      if (line == 8) {
        text += Row("bad", "nobody");
      } else if (line == 20) {
        text += Row("m3");
      } else {
        text += Row("m" + std::to_string(++key));
      }
    }
    text += Row("m2", "bison", "true");  // line 30
    const fs::path file = inbox_ / "members.csv";
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

  testing::TempDir dir_;
  fs::path inbox_;
  source::DirectorySource source_;
  std::unique_ptr<state::StateDb> db_;
};

TEST_F(MemberIntakeTest, ACrashBetweenBatchesResumesWithoutDoubleJobsOrLostRows) {
  const fs::path file = WriteMembers();
  FileIntakeSettings crash;
  crash.batch_rows = 5;
  crash.after_batch = [](int64_t line) -> Result<void> {
    if (line >= 12) return MakeError(ErrorKind::kIo, "crash");  // second batch committed
    return Ok();
  };
  auto first = TakeInFile(*db_, source_, file, ConsentOptions{}, kNowMs, crash);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().message, "crash");
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM members"), 10);
  EXPECT_TRUE(fs::exists(file));  // still in the inbox
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM source_files"), 0);

  FileIntakeSettings resume;
  resume.batch_rows = 5;
  auto second = TakeInFile(*db_, source_, file, ConsentOptions{}, kNowMs, resume);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->counts.inserted, 26);
  EXPECT_EQ(second->counts.already_known, 0);
  EXPECT_EQ(second->problems, 2u);
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM members"), 26);
  EXPECT_EQ(Count(*db_, "SELECT COUNT(DISTINCT member_key) FROM members"), 26);
  EXPECT_EQ(Count(*db_, "SELECT state FROM members WHERE member_key='m2'"),
            static_cast<int64_t>(JobState::kCancelled));
  EXPECT_EQ(Count(*db_, "SELECT rows_ok FROM source_files WHERE name='members.csv'"), 26);
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM source_intake"), 0);
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM source_keys"), 0);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::exists(inbox_ / "processed" / "members.csv"));
  EXPECT_EQ(ReadFile(inbox_ / "rejected" / "members.csv.errors"),
            "members.csv:8: prior_payer: not a configured payer id\n"
            "members.csv:20: duplicate of line 4\n");
}

TEST_F(MemberIntakeTest, AnotherFileUnderTheSameNameStartsOver) {
  fs::path file = WriteMembers();
  FileIntakeSettings crash;
  crash.batch_rows = 5;
  crash.after_batch = [](int64_t) -> Result<void> { return MakeError(ErrorKind::kIo, "crash"); };
  ASSERT_FALSE(TakeInFile(*db_, source_, file, ConsentOptions{}, kNowMs, crash));
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM members"), 5);
  // Replaced by a smaller file: its line 2 was "done" for the old file, but not for this one.
  std::ofstream(file, std::ios::binary | std::ios::trunc) << kHeader << Row("z1") << Row("m1");
  auto r = TakeInFile(*db_, source_, file, ConsentOptions{}, kNowMs + 1000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->counts.inserted, 1);       // z1
  EXPECT_EQ(r->counts.already_known, 1);  // m1, from the old file
  EXPECT_EQ(r->problems, 0u);
}

// The daemon takes the file it claimed (source.path/claimed/<instance.id>/); killed mid-file and
// restarted with the same instance id, it finds the file there and resumes after the last batch.
TEST_F(MemberIntakeTest, AClaimedFileKilledMidFileIsResumedAfterARestart) {
  WriteMembers();
  FileIntakeSettings crash;
  crash.batch_rows = 5;
  crash.after_batch = [](int64_t line) -> Result<void> {
    if (line >= 12) return MakeError(ErrorKind::kIo, "crash");
    return Ok();
  };
  {
    source::DirectorySource first(Options(), {"bison"}, "r");
    ASSERT_TRUE(first.Prepare());
    auto claimed = first.ListReady();
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 1u);
    ASSERT_FALSE(TakeInFile(*db_, first, claimed->front(), ConsentOptions{}, kNowMs, crash));
  }
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM members"), 10);
  source::DirectorySource restarted(Options(), {"bison"}, "r");
  ASSERT_TRUE(restarted.Prepare());
  auto again = restarted.ListReady();
  ASSERT_TRUE(again);
  ASSERT_EQ(*again, std::vector<fs::path>{inbox_ / "claimed" / "r" / "members.csv"});
  auto second = TakeInFile(*db_, restarted, again->front(), ConsentOptions{}, kNowMs);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->counts.inserted, 26);
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM members"), 26);
  EXPECT_EQ(Count(*db_, "SELECT COUNT(DISTINCT member_key) FROM members"), 26);
  EXPECT_FALSE(fs::exists(again->front()));
  EXPECT_TRUE(fs::exists(inbox_ / "processed" / "members.csv"));
  EXPECT_EQ(ReadFile(inbox_ / "rejected" / "members.csv.errors"),
            "members.csv:8: prior_payer: not a configured payer id\n"
            "members.csv:20: duplicate of line 4\n");
}

}  // namespace
}  // namespace p2p::pipeline
