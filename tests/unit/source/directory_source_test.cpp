#include "source/directory_source.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

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
  DirectorySourceTest() : inbox_(dir_.path() / "inbox"), source_(Options(), {"bison"}, "a") {}

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
  for (const fs::path& d : {inbox_ / "processed", inbox_ / "rejected", inbox_ / "claimed",
                            inbox_ / "claimed" / "a"}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }
  EXPECT_EQ(source_.processed_dir(), inbox_ / "processed");
  EXPECT_EQ(source_.rejected_dir(), inbox_ / "rejected");
  EXPECT_EQ(source_.claim_dir(), inbox_ / "claimed" / "a");
  EXPECT_TRUE(source_.Prepare().ok());  // again: nothing to do
}

TEST_F(DirectorySourceTest, PrepareFailsWhenPathIsAFile) {
  WriteFile(dir_.path() / "file", "x");
  SourceOptions options;
  options.path = (dir_.path() / "file").string();
  DirectorySource source(options, {"bison"}, "a");
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

// Several instances on one inbox: each file is claimed (renamed into claimed/<id>/) by exactly
// one of them before it is read.

std::vector<std::string> Names(const Result<std::vector<fs::path>>& files) {
  EXPECT_TRUE(files.ok()) << (files.ok() ? "" : files.error().message);
  std::vector<std::string> names;
  if (files.ok()) {
    for (const fs::path& p : *files) names.push_back(p.filename().string());
  }
  return names;
}

// Regular files in `dir`, the claim directory's .lock left out.
size_t CountFiles(const fs::path& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    n += e.is_regular_file() && e.path().filename() != ".lock" ? 1 : 0;
  }
  return n;
}

TEST_F(DirectorySourceTest, ListReadyClaimsIntoTheInstancesClaimDirectory) {
  ASSERT_TRUE(source_.Prepare().ok());
  WriteFile(inbox_ / "m.csv", std::string(kHeader) + kRow);
  struct stat before {};
  ASSERT_EQ(::stat((inbox_ / "m.csv").c_str(), &before), 0);
  auto ready = source_.ListReady();
  ASSERT_TRUE(ready.ok());
  ASSERT_EQ(*ready, std::vector<fs::path>{inbox_ / "claimed" / "a" / "m.csv"});
  EXPECT_FALSE(fs::exists(inbox_ / "m.csv"));
  // Size and mtime, which key the resume of a file taken in part, survive the claim.
  auto id = source_.Identify((*ready)[0]);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size, before.st_size);
  EXPECT_EQ(id->mtime_ns, before.st_mtim.tv_sec * 1000000000 + before.st_mtim.tv_nsec);
  ASSERT_TRUE(source_.Finish((*ready)[0], std::vector<RowProblem>{}).ok());
  EXPECT_EQ(ReadFile(inbox_ / "processed" / "m.csv"), std::string(kHeader) + kRow);
  EXPECT_EQ(CountFiles(inbox_ / "claimed" / "a"), 0u);
  EXPECT_TRUE(ReadyNames().empty());
}

TEST_F(DirectorySourceTest, TwoInstancesNeverClaimTheSameFile) {
  DirectorySource b(Options(), {"bison"}, "b");
  ASSERT_TRUE(source_.Prepare().ok());
  ASSERT_TRUE(b.Prepare().ok());
  WriteFile(inbox_ / "1.csv", kHeader);
  EXPECT_EQ(Names(source_.ListReady()), std::vector<std::string>{"1.csv"});
  EXPECT_TRUE(Names(b.ListReady()).empty());  // taken: b does not see a's claim
  WriteFile(inbox_ / "2.csv", kHeader);
  EXPECT_EQ(Names(b.ListReady()), std::vector<std::string>{"2.csv"});
  EXPECT_EQ(Names(source_.ListReady()), std::vector<std::string>{"1.csv"});  // its own only
}

TEST_F(DirectorySourceTest, ManyFilesRacedForByTwoInstancesAreEachTakenOnce) {
  constexpr int kFiles = 300;
  DirectorySource b(Options(), {"bison"}, "b");
  ASSERT_TRUE(source_.Prepare().ok());
  ASSERT_TRUE(b.Prepare().ok());
  for (int i = 0; i < kFiles; ++i) {
    WriteFile(inbox_ / ("f" + std::to_string(1000 + i) + ".csv"), kHeader);
  }
  std::atomic<int> ready{0};
  auto take_all = [&ready](DirectorySource* source, std::vector<std::string>* taken) {
    ++ready;
    while (ready.load() < 2) std::this_thread::yield();
    for (;;) {
      auto files = source->ListReady();
      if (!files.ok() || files->empty()) return;
      for (const fs::path& f : *files) {
        taken->push_back(f.filename().string());
        if (!source->Finish(f, std::vector<RowProblem>{}).ok()) return;
      }
    }
  };
  std::vector<std::string> by_a, by_b;
  std::thread ta(take_all, &source_, &by_a);
  std::thread tb(take_all, &b, &by_b);
  ta.join();
  tb.join();
  std::set<std::string> all(by_a.begin(), by_a.end());
  for (const std::string& name : by_b) EXPECT_TRUE(all.insert(name).second) << name << " twice";
  EXPECT_EQ(by_a.size() + by_b.size(), static_cast<size_t>(kFiles));
  EXPECT_EQ(all.size(), static_cast<size_t>(kFiles));
  EXPECT_EQ(CountFiles(inbox_ / "processed"), static_cast<size_t>(kFiles));
  EXPECT_FALSE(fs::exists(inbox_ / "processed" / "f1000.csv.1"));
  EXPECT_EQ(CountFiles(inbox_ / "claimed" / "a") + CountFiles(inbox_ / "claimed" / "b"), 0u);
}

TEST_F(DirectorySourceTest, AClaimedUnfinishedFileIsResumedByTheSameInstanceAfterARestart) {
  {
    DirectorySource first(Options(), {"bison"}, "c");
    ASSERT_TRUE(first.Prepare().ok());
    WriteFile(inbox_ / "m.csv", std::string(kHeader) + kRow);
    ASSERT_EQ(Names(first.ListReady()), std::vector<std::string>{"m.csv"});
  }  // killed before Finish
  ASSERT_TRUE(source_.Prepare().ok());
  EXPECT_TRUE(ReadyNames().empty());  // another instance leaves it alone
  DirectorySource restarted(Options(), {"bison"}, "c");
  ASSERT_TRUE(restarted.Prepare().ok());
  auto again = restarted.ListReady();
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(*again, std::vector<fs::path>{inbox_ / "claimed" / "c" / "m.csv"});
  auto parsed = restarted.Read((*again)[0]);
  ASSERT_TRUE(parsed.ok());
  ASSERT_TRUE(restarted.Finish((*again)[0], *parsed).ok());
  EXPECT_EQ(ReadFile(inbox_ / "processed" / "m.csv"), std::string(kHeader) + kRow);
}

TEST_F(DirectorySourceTest, ASecondDaemonWithTheSameInstanceIdIsRefused) {
  ASSERT_TRUE(source_.Prepare().ok());
  DirectorySource twin(Options(), {"bison"}, "a");
  const Result<void> r = twin.Prepare();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(r.error().message,
            (inbox_ / "claimed" / "a").string() +
                " is in use by another running p2p-ingestd with instance.id a; every daemon "
                "sharing an inbox needs its own instance.id");
  DirectorySource bad(Options(), {"bison"}, "..");
  EXPECT_EQ(bad.Prepare().error().kind, ErrorKind::kInvalid);
}

TEST_F(DirectorySourceTest, ANameAlreadyHeldIsClaimedOnceThatFileIsFinished) {
  ASSERT_TRUE(source_.Prepare().ok());
  WriteFile(inbox_ / "same.csv", std::string(kHeader) + "first\n");
  ASSERT_EQ(ReadyNames(), std::vector<std::string>{"same.csv"});
  WriteFile(inbox_ / "same.csv", std::string(kHeader) + "second\n");
  auto held = source_.ListReady();  // the first is not finished: the second waits in the inbox
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ(ReadFile((*held)[0]), std::string(kHeader) + "first\n");
  EXPECT_TRUE(fs::exists(inbox_ / "same.csv"));
  ASSERT_TRUE(source_.Finish((*held)[0], std::vector<RowProblem>{}).ok());
  auto next = source_.ListReady();
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  ASSERT_TRUE(source_.Finish((*next)[0], std::vector<RowProblem>{}).ok());
  EXPECT_EQ(ReadFile(inbox_ / "processed" / "same.csv"), std::string(kHeader) + "first\n");
  EXPECT_EQ(ReadFile(inbox_ / "processed" / "same.csv.1"), std::string(kHeader) + "second\n");
}

TEST_F(DirectorySourceTest, FinishWaitsForAnotherInstanceChoosingAProcessedName) {
  ASSERT_TRUE(source_.Prepare().ok());
  WriteFile(inbox_ / "m.csv", kHeader);
  auto ready = source_.ListReady();
  ASSERT_TRUE(ready.ok());
  ASSERT_EQ(ready->size(), 1u);
  {
    auto other = FileLock::TryLock(inbox_ / "claimed" / ".processed.lock");
    ASSERT_TRUE(other.ok());
    const Result<void> r = source_.Finish((*ready)[0], std::vector<RowProblem>{});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kBusy);
    EXPECT_TRUE(fs::exists((*ready)[0]));  // still claimed, finished on a later pass
  }
  ASSERT_TRUE(source_.Finish((*ready)[0], std::vector<RowProblem>{}).ok());
  EXPECT_TRUE(fs::exists(inbox_ / "processed" / "m.csv"));
}

TEST_F(DirectorySourceTest, CheckReadableClaimsNothing) {
  ASSERT_TRUE(source_.Prepare().ok());
  WriteFile(inbox_ / "m.csv", kHeader);
  EXPECT_TRUE(source_.CheckReadable().ok());
  EXPECT_TRUE(fs::exists(inbox_ / "m.csv"));
}

}  // namespace
}  // namespace p2p::source
