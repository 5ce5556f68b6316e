// NdjsonStore::Compact(): one line per live (payer, id) in the raw files, and a kill at any point
// (its marks recorded or not) leaves a store that Recover() makes readable with every live
// resource exactly once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/ndjson_store.h"
#include "unit/store/store_test_util.h"

namespace p2p::store {
namespace {

using testing::PublishAndRecord;
using testing::ReadAll;
using testing::TempDir;
using Marks = std::map<std::string, StoreMark>;

std::string Obs(const std::string& id, int v, const std::string& pad = "") {
  return R"({"resourceType":"Observation","id":")" + id + R"(","v":)" + std::to_string(v) +
         (pad.empty() ? "" : R"(,"pad":")" + pad + "\"") + "}";
}

// Job `job` (payer, member) stores `ids` at version `v` and is published.
void Store(NdjsonStore& s, Marks& marks, int64_t job, const std::string& payer,
           const std::string& member, const std::vector<std::string>& ids, int v,
           const std::string& pad = "") {
  auto w = s.Begin(FileContext{payer, member, job, 0, "Observation", "t" + std::to_string(v)});
  ASSERT_TRUE(w.ok()) << w.error().message;
  for (const auto& id : ids) ASSERT_TRUE((*w)->Put(id, Obs(id, v, pad)).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  PublishAndRecord(s, job, marks);
}

void Record(const DeleteOutcome& d, Marks& marks) {
  for (const StoreMark& m : d.marks) {
    marks[m.type].type = m.type;
    marks[m.type].deleted_end = m.deleted_end;
  }
}

// (payer/member/id) of every line Scan gives, with how often.
std::map<std::string, int> Scanned(ResourceStore& s) {
  std::map<std::string, int> out;
  auto r = s.Scan("Observation", [&](const StoredResource& x) {
    ++out[std::string(x.payer) + "/" + std::string(x.member_key) + "/" + std::string(x.id)];
  });
  EXPECT_TRUE(r.ok()) << r.error().message;
  return out;
}

std::vector<std::string> Leftovers(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find(".compact") != std::string::npos) {
      out.push_back(e.path().filename().string());
    }
  }
  return out;
}

std::unique_ptr<NdjsonStore> Open(const std::string& dir) {
  auto s = NdjsonStore::Open(dir);
  EXPECT_TRUE(s.ok());
  return s.ok() ? std::move(*s) : nullptr;
}

// A store with superseded lines (a refresh), a deleted resource and a purged member.
class Compaction : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Open(dir_.path());
    Store(*s, marks_, 1, "bison", "m1", {"a", "b", "c"}, 1);
    Store(*s, marks_, 2, "elk", "m2", {"a", "d"}, 1);
    Store(*s, marks_, 3, "bison", "m3", {"e", "f"}, 1);
    Store(*s, marks_, 1, "bison", "m1", {"b", "c"}, 2);  // a refresh supersedes b and c
    auto d = s->Delete("bison", 0, {{"Observation", "c"}});
    ASSERT_TRUE(d.ok());
    Record(*d, marks_);
    auto p = s->PurgeMember("bison", "m3");
    ASSERT_TRUE(p.ok());
    Record(*p, marks_);
    old_ = ReadAll(dir_ / "Observation.ndjson");
  }

  // What a compaction must leave: each live (payer, id) once, its last version.
  const std::string compacted_ =
      Obs("a", 1) + "\n" + Obs("a", 1) + "\n" + Obs("d", 1) + "\n" + Obs("b", 2) + "\n";
  const std::map<std::string, int> live_ = {
      {"bison/m1/a", 1}, {"bison/m1/b", 1}, {"elk/m2/a", 1}, {"elk/m2/d", 1}};

  TempDir dir_;
  Marks marks_;
  std::string old_;
};

TEST_F(Compaction, SupersededAndDeletedLinesComeOutAsOneLinePerLivePayerAndId) {
  auto s = Open(dir_.path());
  auto done = s->Compact([&](const StoreMark& m) -> Result<void> {
    marks_[m.type] = m;
    return Ok();
  });
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(ReadAll(dir_ / "Observation.ndjson"), compacted_);
  EXPECT_EQ(ReadAll(dir_ / "Observation.deleted"), "");
  EXPECT_EQ(marks_["Observation"].deleted_end, 0);
  EXPECT_EQ(marks_["Observation"].ndjson_end, static_cast<int64_t>(compacted_.size()));
  EXPECT_EQ(Scanned(*s), live_);
  EXPECT_TRUE(Leftovers(dir_.path()).empty());
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ((*done)[0].lines_before, 9);
  EXPECT_EQ((*done)[0].lines_after, 4);
  // The daemon's next start accepts the new files as they are.
  auto again = Open(dir_.path());
  ASSERT_TRUE(again->Recover(marks_, {}).ok());
  EXPECT_EQ(ReadAll(dir_ / "Observation.ndjson"), compacted_);
  EXPECT_EQ(Scanned(*again), live_);
}

TEST_F(Compaction, AKillBeforeTheMarksAreRecordedLeavesTheOldFiles) {
  {
    auto s = Open(dir_.path());
    auto done = s->Compact([](const StoreMark&) -> Result<void> {
      return MakeError(ErrorKind::kIo, "killed before the commit");
    });
    ASSERT_FALSE(done.ok());
    EXPECT_FALSE(Leftovers(dir_.path()).empty());  // new files and journal, not yet renamed
  }
  auto s = Open(dir_.path());
  ASSERT_TRUE(s->Recover(marks_, {}).ok());  // the old marks: the compaction never happened
  EXPECT_EQ(ReadAll(dir_ / "Observation.ndjson"), old_);
  EXPECT_TRUE(Leftovers(dir_.path()).empty());
  EXPECT_EQ(Scanned(*s), live_);
}

TEST_F(Compaction, AKillAfterTheMarksAreRecordedFinishesTheRenames) {
  {
    auto s = Open(dir_.path());
    auto done = s->Compact([&](const StoreMark& m) -> Result<void> {
      marks_[m.type] = m;  // committed...
      return MakeError(ErrorKind::kIo, "killed right after the commit");
    });
    ASSERT_FALSE(done.ok());
  }
  // ...and killed after the index was renamed, before the data was.
  ASSERT_EQ(std::rename((dir_ / ".Observation.index.compact").c_str(),
                        (dir_ / "Observation.index").c_str()),
            0);
  auto s = Open(dir_.path());
  ASSERT_TRUE(s->Recover(marks_, {}).ok());
  EXPECT_EQ(ReadAll(dir_ / "Observation.ndjson"), compacted_);
  EXPECT_EQ(ReadAll(dir_ / "Observation.deleted"), "");
  EXPECT_TRUE(Leftovers(dir_.path()).empty());
  EXPECT_EQ(Scanned(*s), live_);
}

// The child compacts a store of ~20 MB, recording each mark in marks.log (a line per commit,
// synced) as the state DB would; the parent kills it at points spread over the run and checks
// what Recover() makes of the remains.
TEST(CompactionKill, AKillAtAnyPointLeavesAReadableStoreWithEveryLiveResourceOnce) {
  TempDir dir;
  const std::string base = dir / "base";
  Marks base_marks;
  std::map<std::string, int> live;
  {
    auto s = Open(base);
    const std::string pad(150, 'p');
    // Members m1 and m2, each exported twice (a refresh sends every resource again).
    for (int job = 1; job <= 4; ++job) {
      const std::string member = job % 2 ? "m1" : "m2";
      std::vector<std::string> ids;
      for (int i = 0; i < 30000; ++i) ids.push_back(member + "r" + std::to_string(i));
      Store(*s, base_marks, job, "bison", member, ids, job, pad);
      if (job > 2) {
        for (const auto& id : ids) live["bison/" + member + "/" + id] = 1;
      }
    }
  }
  const std::string old = ReadAll(base + "/Observation.ndjson");

  // Runs a compaction of a fresh copy of `base` in a child, killed after `kill_after` (or not);
  // `took`: how long the child ran.
  std::chrono::microseconds took{0};
  auto run = [&](const std::string& work, std::chrono::microseconds kill_after) {
    std::filesystem::remove_all(work);
    std::filesystem::copy(base, work, std::filesystem::copy_options::recursive);
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
      auto s = NdjsonStore::Open(work);
      if (!s.ok()) ::_exit(2);
      auto done = (*s)->Compact([&](const StoreMark& m) -> Result<void> {
        std::string line = m.type + " " + std::to_string(m.ndjson_end) + " " +
                           std::to_string(m.index_end) + " " + std::to_string(m.deleted_end) + "\n";
        auto fd = OpenFile(work + "/../marks.log", O_WRONLY | O_CREAT | O_APPEND);
        if (!fd) return fd.error();
        if (auto w = WriteAll(fd->get(), line.data(), line.size(), "marks"); !w) return w;
        return SyncFile(fd->get(), "marks");
      });
      ::_exit(done.ok() ? 0 : 1);
    }
    if (kill_after.count() > 0) {
      std::this_thread::sleep_for(kill_after);
      ::kill(pid, SIGKILL);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 t0);
    return status;
  };
  // The marks the "state DB" holds: the base's, then every complete line of marks.log.
  auto recorded = [&]() {
    Marks marks = base_marks;
    const std::string log = ReadAll(dir / "marks.log");
    std::istringstream in(log.substr(0, log.rfind('\n') + 1));
    std::string type;
    StoreMark m;
    while (in >> type >> m.ndjson_end >> m.index_end >> m.deleted_end) {
      m.type = type;
      marks[type] = m;
    }
    return marks;
  };

  ASSERT_EQ(run(dir / "work", std::chrono::microseconds(0)), 0);
  const auto full = took;
  const std::string compacted = ReadAll(dir / "work/Observation.ndjson");
  ASSERT_LT(compacted.size(), old.size());
  int saw_old = 0, saw_new = 0;
  for (int k = 1; k <= 9; ++k) {
    std::filesystem::remove(dir / "marks.log");
    const int status = run(dir / "work", full * k / 10);
    auto s = Open(dir / "work");
    auto r = s->Recover(recorded(), {});
    ASSERT_TRUE(r.ok()) << "kill " << k << " (status " << status << "): " << r.error().message;
    const std::string now = ReadAll(dir / "work/Observation.ndjson");
    EXPECT_TRUE(now == old || now == compacted) << "kill " << k << ": a mix of old and new";
    (now == old ? saw_old : saw_new) += 1;
    EXPECT_TRUE(Leftovers(dir / "work").empty()) << "kill " << k;
    EXPECT_TRUE(Scanned(*s) == live) << "kill " << k;
    // Compacting again finishes the job.
    auto again = s->Compact([](const StoreMark&) -> Result<void> { return Ok(); });
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_TRUE(ReadAll(dir / "work/Observation.ndjson") == compacted) << "kill " << k;
  }
  std::printf("compaction kills: %d left the old file, %d the new one (full run %lld us)\n",
              saw_old, saw_new, static_cast<long long>(full.count()));
}

}  // namespace
}  // namespace p2p::store
