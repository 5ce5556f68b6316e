// The NDJSON store's files as a reader sees them (README "Stores"), end to end against
// p2p-sandbox: an export whose files expired (410) is kicked off again and its files are
// downloaded anew, and still each resource is once in the raw <Type>.ndjson; `p2p-ingestd
// compact` refuses to run beside the daemon and afterwards leaves one line per resource, which
// the daemon's next start accepts.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "integration/chaos_store.h"
#include "integration/daemon_harness.h"
#include "support/child_process.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

// (type, member, id) of every raw line, checked for structure (chaos_store.h).
StoreSnapshot Raw(const DaemonHarness& h) {
  std::string integrity;
  StoreSnapshot s = LoadNdjsonSnapshot(h.store_path(), h.state_path(), &integrity);
  EXPECT_EQ(integrity, "ok");
  return s;
}

std::map<std::string, std::set<std::pair<std::string, std::string>>> Keys(const StoreSnapshot& s) {
  std::map<std::string, std::set<std::pair<std::string, std::string>>> out;
  for (const auto& [type, entries] : s.entries) {
    for (const auto& [key, entry] : entries) out[type].insert(key);
  }
  return out;
}

TEST(NdjsonFiles, ExpiredFilesAreDownloadedAgainWithoutDoublingALine) {
  HarnessOptions o;
  o.members = 12;
  o.store = "ndjson";
  o.faults = "file:410@every11";
  o.job_delay = "0ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  const Expected want = h.LoadExpected();
  for (const auto& [key, state] : h.MemberStates()) EXPECT_EQ(state, want.outcome.at(key)) << key;
  // Re-kicks: downloading -> exporting.
  EXPECT_GT(h.CountRows("SELECT COUNT(*) FROM events WHERE from_state = 5 AND to_state = 3"), 0);
  const StoreSnapshot raw = Raw(h);
  EXPECT_EQ(raw.duplicated, 0);
  EXPECT_EQ(raw.rekick_copies, 0);  // before staging: about one line in nine twice
  EXPECT_EQ(Keys(raw), want.resources);
}

// A concurrent member's refresh (_since) sends re-versioned resources again: the raw files then
// hold superseded lines, which compaction drops.
TEST(NdjsonFiles, CompactWaitsForTheDaemonToStopThenKeepsOneLinePerResource) {
  HarnessOptions o;
  o.members = 6;
  o.store = "ndjson";
  o.job_delay = "0ms";
  o.sandbox_args = {"--updates-per-export", "3"};
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  std::ofstream(h.config_path(), std::ios::app) << "refresh:\n  interval: 1ms\n";
  {  // the roster with every member concurrent
    std::istringstream in(ReadFile((h.dir() / "roster" / "members.csv").string()));
    std::string line, out;
    std::getline(in, line);
    out = line + ",concurrent,coverage_end,consent_revoked\n";
    while (std::getline(in, line)) {
      if (!line.empty()) out += line + ",true,,\n";
    }
    std::ofstream(h.inbox() / ".members.csv.tmp") << out;
    std::filesystem::rename(h.inbox() / ".members.csv.tmp", h.inbox() / "members.csv");
  }
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;  // the refreshes

  // While the daemon runs (it holds the store's lock), compact refuses.
  std::string error;
  auto daemon = h.StartDaemon(&error);
  ASSERT_TRUE(daemon) << error;
  const std::string lock = h.store_path() + "/.lock";
  for (auto until = std::chrono::steady_clock::now() + 20s;;) {
    const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
    const bool held = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    if (fd >= 0) ::close(fd);  // releases the lock if this probe got it
    if (held) break;
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "the daemon never took the lock";
    std::this_thread::sleep_for(20ms);
  }
  CommandResult refused = RunCommand(IngestdExecutable(), {"compact", "--config", h.config_path()});
  EXPECT_EQ(refused.exit_code, 75) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("is in use by another process"), std::string::npos) << refused.err;
  daemon->Signal(SIGKILL);  // it may still be starting: no SIGTERM handler yet
  ASSERT_EQ(daemon->Wait(20s), 128 + SIGKILL);
  const StoreSnapshot before = Raw(h);
  ASSERT_GT(before.rekick_copies, 0) << "the refreshes sent nothing again";
  const Expected scanned = h.LoadStore();

  CommandResult done = RunCommand(IngestdExecutable(), {"compact", "--config", h.config_path()});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.out.find("Observation.ndjson: "), std::string::npos) << done.out;
  const StoreSnapshot after = Raw(h);
  EXPECT_EQ(after.duplicated + after.rekick_copies, 0);
  EXPECT_EQ(Keys(after), Keys(before));
  EXPECT_EQ(h.LoadStore().resources, scanned.resources);
  // The daemon starts on the compacted store (its marks were recorded) and goes on (another
  // round of refreshes: interval 1ms).
  ASSERT_EQ(h.RunOnce(60s), 0) << h.last_run().err;
  const auto now = Keys(Raw(h));
  for (const auto& [type, keys] : Keys(before)) {
    for (const auto& k : keys) EXPECT_EQ(now.at(type).count(k), 1u) << type << " " << k.second;
  }
}

}  // namespace
}  // namespace p2p::testing
