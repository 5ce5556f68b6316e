// Resource limits end to end: the NDJSON store on a small tmpfs (a private mount
// namespace of this test process; skipped where mounting is not allowed). A full or read-only
// store stops new downloads, is said in the log and in /status, leaves the state consistent and
// the daemon resumes by itself when the store takes writes again. An outside writer holding the
// SQLite store or the state DB is waited out.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "integration/daemon_harness.h"
#include "support/http_client.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Mounts happen in a mount namespace of this process only. "" or why it is not possible.
std::string PrivateMounts() {
  static const std::string result = [] {
    if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS) refused");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return std::string("cannot make / private");
    }
    return std::string();
  }();
  return result;
}

class ResourceLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = PrivateMounts(); !why.empty()) GTEST_SKIP() << why;
    HarnessOptions o;
    o.members = 10;
    o.store = "ndjson";
    o.job_delay = "1s";  // downloads start a second after the kick-off
    o.status_listen = "127.0.0.1:0";
    o.store_retry_interval = "50ms";
    h_ = std::make_unique<DaemonHarness>(o);
    ASSERT_EQ(h_->Start(), "");
    fs::create_directories(h_->store_path());
    ASSERT_EQ(::mount("tmpfs", h_->store_path().c_str(), "tmpfs", 0, "size=8m,mode=0700"), 0);
    mounted_ = true;
  }
  void StopDaemon() {
    if (!daemon_) return;
    daemon_->Signal(SIGTERM);
    EXPECT_EQ(daemon_->Wait(20s), 0);
    daemon_.reset();
  }
  void TearDown() override {
    StopDaemon();
    if (mounted_) ::umount2(h_->store_path().c_str(), MNT_DETACH);
  }

  void StartDaemon() {
    std::string error;
    daemon_ = h_->StartDaemon(&error);
    ASSERT_TRUE(daemon_) << error;
    ASSERT_NE(h_->StatusBase(10s), "") << h_->Log();
  }

  // Every member at its expected outcome, the store exactly as expected.
  void ExpectAllDone() {
    ASSERT_TRUE(WaitUntil(
        [&] { return h_->CountRows("SELECT COUNT(*) FROM members WHERE state<=5") == 0; }, 30s))
        << h_->Log();
    const Expected want = h_->LoadExpected();
    const auto states = h_->MemberStates();
    for (const auto& [key, outcome] : want.outcome) EXPECT_EQ(states.at(key), outcome) << key;
    const Expected got = h_->LoadStore();
    EXPECT_EQ(got.resources, want.resources);
    EXPECT_TRUE(got.outcome.empty());  // no duplicated lines
  }

  std::unique_ptr<DaemonHarness> h_;
  std::unique_ptr<ChildProcess> daemon_;
  bool mounted_ = false;
};

TEST_F(ResourceLimits, AFullStorePausesDownloadsSaysSoAndResumesWhenSpaceReturns) {
  const fs::path filler = fs::path(h_->store_path()) / "filler";
  {
    std::ofstream f(filler, std::ios::binary);
    const std::string block(64 * 1024, 'x');
    while (f.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  h_->DropRoster("members.csv");
  StartDaemon();
  ASSERT_TRUE(WaitUntil(
      [&] { return h_->Log().find("store is full: downloads paused") != std::string::npos; }, 20s))
      << h_->Log();
  const std::string base = h_->StatusBase();
  EXPECT_NE(StatusJson(base).find(R"("storage":{"state":"disk_full","since_s":)"),
            std::string::npos)
      << StatusJson(base);
  // Consistent while paused: nothing counted done, nothing failed, jobs wait in downloading.
  ASSERT_TRUE(WaitUntil(
      [&] { return h_->CountRows("SELECT COUNT(*) FROM members WHERE state=5") > 0; }, 20s));
  EXPECT_EQ(h_->CountRows("SELECT COUNT(*) FROM files WHERE state=1 AND kind=0"), 0);
  EXPECT_EQ(h_->CountRows("SELECT COUNT(*) FROM members WHERE state=10"), 0);

  fs::remove(filler);
  ExpectAllDone();
  EXPECT_NE(StatusJson(base).find(R"("storage":{"state":"ok"})"), std::string::npos);
  StopDaemon();  // flushes the log
  EXPECT_NE(h_->Log().find("store takes writes again: downloads resume"), std::string::npos);
}

TEST_F(ResourceLimits, AReadOnlyStorePausesDownloadsSaysSoAndResumesWhenWritable) {
  // Read-only once the daemon runs (a store read-only at start stops the daemon at once).
  h_->DropRoster("members.csv");
  StartDaemon();
  ASSERT_EQ(::mount(nullptr, h_->store_path().c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0);
  ASSERT_TRUE(WaitUntil(
      [&] { return h_->Log().find("store is read-only: downloads paused") != std::string::npos; },
      20s))
      << h_->Log();
  const std::string base = h_->StatusBase();
  EXPECT_NE(StatusJson(base).find(R"("storage":{"state":"read_only","since_s":)"),
            std::string::npos)
      << StatusJson(base);
  EXPECT_EQ(h_->CountRows("SELECT COUNT(*) FROM members WHERE state=10"), 0);
  ASSERT_EQ(::mount(nullptr, h_->store_path().c_str(), nullptr, MS_REMOUNT, "size=8m"), 0);
  ExpectAllDone();
  StopDaemon();
  EXPECT_NE(h_->Log().find("store takes writes again: downloads resume"), std::string::npos);
}

// An operator's sqlite3 holding a write transaction on the state DB while the daemon runs: the
// daemon waits for it and fails nothing.
TEST(ResourceLimitsBusy, AnOutsideWriterHoldingTheStateDbIsWaitedOut) {
  HarnessOptions o;
  o.members = 10;
  o.job_delay = "0ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  std::string error;
  auto daemon = h.StartDaemon(&error);
  ASSERT_TRUE(daemon) << error;
  ASSERT_TRUE(WaitUntil([&] { return h.CountRows("SELECT COUNT(*) FROM members") > 0; }, 10s));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(h.state_path().c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::this_thread::sleep_for(1500ms);  // the outside writer's own pace, not a wait for an event
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ASSERT_TRUE(WaitUntil([&] { return h.CountRows("SELECT COUNT(*) FROM members WHERE state<=5") == 0; },
                        30s));
  daemon->Signal(SIGTERM);
  EXPECT_EQ(daemon->Wait(20s), 0);
  const Expected want = h.LoadExpected();
  const auto states = h.MemberStates();
  for (const auto& [key, outcome] : want.outcome) EXPECT_EQ(states.at(key), outcome) << key;
}

}  // namespace
}  // namespace p2p::testing
