// Two daemons on one inbox: p2p-ingestd instances `a` and `b`, each with its own SQLite state DB
// and store, share the inbox and the sandbox. Member files dropped at once are each claimed by
// exactly one of them, so every roster row becomes a member in exactly one state DB.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/daemon_harness.h"
#include "support/child_process.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Replace(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
}

// The harness's configuration for instance `id` in its own directory h.dir()/id: its own state
// DB, store and log, the shared inbox and client secret.
fs::path WriteInstanceConfig(const DaemonHarness& h, const std::string& id) {
  const fs::path dir = h.dir() / id;
  fs::create_directories(dir);
  std::string config = ReadText(h.config_path());
  Replace(config, "  path: " + h.store_path() + "\n", "  path: resources.db\n");
  Replace(config, "  path: inbox\n", "  path: ../inbox\n");
  Replace(config, "client_secret_file: secret", "client_secret_file: ../secret");
  Replace(config, "poll_interval: 100ms", "poll_interval: 20ms");  // scans that often collide
  std::ofstream(dir / "p2p.yaml") << "instance:\n  id: " << id << "\n" << config;
  return dir;
}

TEST(SharedInbox, TwoDaemonsTakeEveryMemberFileExactlyOnce) {
  constexpr int kFiles = 24;
  constexpr int kRowsPerFile = 10;
  HarnessOptions o;
  o.members = kFiles * kRowsPerFile;
  o.job_delay = "10s";  // the sandbox's exports stay running: only the intake matters here
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");

  std::vector<fs::path> dirs;
  std::vector<std::unique_ptr<ChildProcess>> daemons;
  for (const std::string id : {"a", "b"}) {
    dirs.push_back(WriteInstanceConfig(h, id));
    ChildOptions co;
    co.wait_for_first_line = false;
    co.stderr_path = (dirs.back() / "daemon.stderr").string();
    std::string error;
    daemons.push_back(ChildProcess::Start(
        IngestdExecutable(), {"run", "--config", (dirs.back() / "p2p.yaml").string()}, &error, co));
    ASSERT_TRUE(daemons.back()) << error;
  }
  // Both are scanning once their claim directories exist (made before the first scan).
  ASSERT_TRUE(WaitUntil(
      [&] {
        return fs::exists(h.inbox() / "claimed" / "a") && fs::exists(h.inbox() / "claimed" / "b");
      },
      20s));

  // The roster, cut into files written aside and renamed into the inbox 10 ms apart: both
  // daemons' scans (every 20 ms) meet files, often the same ones.
  std::istringstream roster(ReadText(h.dir() / "roster" / "members.csv"));
  std::string header, line;
  std::getline(roster, header);
  std::vector<std::string> rows;
  while (std::getline(roster, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), static_cast<size_t>(kFiles * kRowsPerFile));
  std::vector<std::string> names;
  for (int f = 0; f < kFiles; ++f) {
    names.push_back("part-" + std::to_string(100 + f) + ".csv");
    std::ofstream out(h.dir() / names.back(), std::ios::binary);
    out << header << "\n";
    for (int r = 0; r < kRowsPerFile; ++r) out << rows[f * kRowsPerFile + r] << "\n";
  }
  for (const std::string& name : names) {
    fs::rename(h.dir() / name, h.inbox() / name);
    std::this_thread::sleep_for(10ms);  // pacing the producer, not waiting for the daemons
  }

  auto members = [&](const fs::path& dir) {
    return CountRowsIn((dir / "state.db").string(), "SELECT COUNT(*) FROM members");
  };
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const std::string& name : names) {
          if (h.Waiting(name)) return false;
        }
        return true;
      },
      60s));

  std::set<std::string> processed;
  for (const auto& e : fs::directory_iterator(h.inbox() / "processed")) {
    processed.insert(e.path().filename().string());
  }
  EXPECT_EQ(processed, std::set<std::string>(names.begin(), names.end()));  // none taken twice
  std::set<std::string> taken_by_a;
  for (const std::string& key :
       FirstColumnIn((dirs[0] / "state.db").string(), "SELECT member_key FROM members")) {
    taken_by_a.insert(key);
  }
  const std::vector<std::string> taken_by_b =
      FirstColumnIn((dirs[1] / "state.db").string(), "SELECT member_key FROM members");
  size_t in_both = 0;
  for (const std::string& key : taken_by_b) in_both += taken_by_a.count(key);
  EXPECT_EQ(in_both, 0u);
  EXPECT_EQ(members(dirs[0]) + members(dirs[1]), static_cast<int64_t>(rows.size()));
  EXPECT_EQ(taken_by_a.size() + taken_by_b.size(), rows.size());
  // Each file is recorded as taken in by exactly one of them.
  const int64_t files_a =
      CountRowsIn((dirs[0] / "state.db").string(), "SELECT COUNT(*) FROM source_files");
  const int64_t files_b =
      CountRowsIn((dirs[1] / "state.db").string(), "SELECT COUNT(*) FROM source_files");
  EXPECT_EQ(files_a + files_b, kFiles);
  std::printf("files taken in: a %lld, b %lld\n", static_cast<long long>(files_a),
              static_cast<long long>(files_b));

  for (auto& d : daemons) {
    d->Signal(SIGTERM);
    EXPECT_EQ(d->Wait(20s), 0);
  }
}

TEST(SharedInbox, ASecondDaemonWithTheSameInstanceIdIsRefused) {
  HarnessOptions o;
  o.members = 4;
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  const fs::path dir = WriteInstanceConfig(h, "a");
  std::string error;
  ChildOptions co;
  co.wait_for_first_line = false;
  co.stderr_path = (dir / "daemon.stderr").string();
  auto first = ChildProcess::Start(IngestdExecutable(),
                                   {"run", "--config", (dir / "p2p.yaml").string()}, &error, co);
  ASSERT_TRUE(first) << error;
  // The lock file is made and locked in one step of the first daemon's start.
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(h.inbox() / "claimed" / "a" / ".lock"); }, 20s));
  // The same instance.id with another state and store (the store's lock does not stop it).
  std::string twin = ReadText(h.config_path());
  Replace(twin, "  path: " + h.store_path() + "\n", "  path: twin-resources.db\n");
  Replace(twin, "  path: state.db\n", "  path: twin-state.db\n");
  std::ofstream(h.dir() / "twin.yaml") << "instance:\n  id: a\n" << twin;
  CommandResult r = RunCommand(
      IngestdExecutable(), {"run", "--once", "--config", (h.dir() / "twin.yaml").string()}, 20s);
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_NE((r.err + ReadText(h.dir() / "log" / "p2p-ingestd.log"))
                .find("claimed/a is in use by another running p2p-ingestd with instance.id a; "
                      "every daemon sharing an inbox needs its own instance.id"),
            std::string::npos);
  first->Signal(SIGKILL);  // it may still be starting: no SIGTERM handler yet
  EXPECT_EQ(first->Wait(20s), 128 + SIGKILL);
}

}  // namespace
}  // namespace p2p::testing
