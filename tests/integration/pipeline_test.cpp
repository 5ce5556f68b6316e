// The daemon end to end against p2p-sandbox: every member reaches the
// outcome expected.json gives, and the store holds exactly the expected ids per type per member.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include <simdjson.h>

#include "integration/daemon_harness.h"
#include "support/http_client.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

void RunAndCompare(HarnessOptions o) {
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
  EXPECT_EQ(DiffFromExpected(h), "") << h.last_run().out;
  EXPECT_TRUE(std::filesystem::exists(h.inbox() / "processed" / "members.csv"));
}

TEST(Pipeline, OneUpFlavorSqliteStoreMatchesExpectedExactly) {
  HarnessOptions o;
  o.flavor = "1up";
  o.store = "sqlite";
  RunAndCompare(o);
}

TEST(Pipeline, BulkV2FlavorNdjsonStoreMatchesExpectedExactly) {
  HarnessOptions o;
  o.flavor = "bulk-v2";
  o.store = "ndjson";
  RunAndCompare(o);
}

TEST(Pipeline, DroppingTheSameFileAgainAddsNothing) {
  HarnessOptions o;
  o.members = 60;
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
  int64_t jobs = h.CountRows("SELECT COUNT(*) FROM members");
  int64_t events = h.CountRows("SELECT COUNT(*) FROM events");
  Expected before = h.LoadStore();
  h.DropRoster("members-again.csv");
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
  // Terminal failures may be retried by a new drop; complete and active ones are not.
  int64_t retried = h.CountRows(
      "SELECT COUNT(*) FROM members WHERE id > (SELECT MAX(id) FROM members WHERE source_file='members.csv')");
  int64_t terminal_failures = h.CountRows(
      "SELECT COUNT(*) FROM members WHERE source_file='members.csv' AND state IN (7,8,9,10,11)");
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members"), jobs + retried);
  EXPECT_EQ(retried, terminal_failures);
  EXPECT_GE(h.CountRows("SELECT COUNT(*) FROM events"), events);
  EXPECT_EQ(h.LoadStore().resources, before.resources);
  EXPECT_EQ(DiffFromExpected(h), "");
}

TEST(Pipeline, SameStoreWithEveryFaultKindAtAModerateRate) {
  HarnessOptions o;
  o.members = 200;
  o.faults =
      "token:503@0.05,token:expire=500ms,match:500@0.05,match:429@0.05:retry-after=1,"
      "match:badjson@0.03,export:503@0.05,export:reset@0.03,export:badjson@0.03,job:500@0.05,"
      "job:429@0.05:retry-after=date,job:badjson@0.03,job:fail@every40,file:cut@0.05,"
      "file:reset@0.03,file:410@every300,file:404@every350,file:badjson@0.05,"
      "any:delay=20ms@0.05,file:503@0.05";
  o.max_attempts = 30;
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
  EXPECT_EQ(DiffFromExpected(h), "") << h.last_run().out;
  // Every fault kind was really met: the sandbox counts what it injected.
  HttpClient admin(h.SandboxUrl());
  HttpResponse stats = admin.Get("/admin/stats");
  ASSERT_EQ(stats.status, 200) << stats.error;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(stats.body).get(doc), simdjson::SUCCESS);
  for (const char* kind : {"500", "503", "429", "404", "410", "reset", "cut", "badjson", "fail",
                           "delay", "expire"}) {
    int64_t n = 0;
    EXPECT_EQ(doc["faults"][kind].get_int64().get(n), simdjson::SUCCESS) << kind;
    EXPECT_GT(n, 0) << "no " << kind << " fault was injected";
  }
}

TEST(Pipeline, SigkillMidRunThenRestartGivesTheSameStore) {
  HarnessOptions o;
  o.members = 200;
  o.store = "ndjson";
  o.concurrency = 8;
  o.job_delay = "100ms";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  for (int round = 0; round < 3; ++round) {
    std::string err;
    auto d = h.StartDaemon(&err);
    ASSERT_NE(d, nullptr) << err;
    // Wait until this round has made progress, then kill without warning.
    auto deadline = std::chrono::steady_clock::now() + 60s;
    int64_t target = 30 * (round + 1);
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::exists(h.state_path()) &&
          h.CountRows("SELECT COUNT(*) FROM files WHERE state=1") >= target) {
        break;
      }
      if (d->Wait(0ms).has_value()) FAIL() << ReadFile((h.dir() / "daemon.stderr").string());
      std::this_thread::sleep_for(20ms);
    }
    d->Signal(SIGKILL);
    d->Wait(5s);
  }
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
  EXPECT_EQ(DiffFromExpected(h), "") << h.last_run().out;
}

// Large files (several MiB, past fhir::ChunkChecker::kInlineBytes): the download path with the
// line-checking thread, the body received straight into its slots and, for the NDJSON store,
// runs of lines written from those slots by the writeback thread. The roster's
// expected.json does not know --resource-scale, so the stores are compared with each other:
// the same resources, each once; and an NDJSON run killed mid-download and restarted ends the
// same.
Expected RunLarge(const std::string& store, bool kill_mid_download) {
  HarnessOptions o;
  o.members = 3;
  o.store = store;
  o.job_delay = "10ms";
  o.sandbox_args = {"--resource-scale", "400"};
  DaemonHarness h(o);
  EXPECT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  if (kill_mid_download) {
    std::string err;
    auto d = h.StartDaemon(&err);
    EXPECT_NE(d, nullptr) << err;
    if (d == nullptr) return {};
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      // One file done: the others of its job are being downloaded.
      if (std::filesystem::exists(h.state_path()) &&
          h.CountRows("SELECT COUNT(*) FROM files WHERE state=1 AND bytes > 1000000") >= 1) {
        break;
      }
      if (d->Wait(0ms).has_value()) {
        ADD_FAILURE() << ReadFile((h.dir() / "daemon.stderr").string());
        return {};
      }
      std::this_thread::sleep_for(5ms);
    }
    EXPECT_LT(h.CountRows("SELECT COUNT(*) FROM members WHERE state=6"), 3) << "killed too late";
    d->Signal(SIGKILL);
    d->Wait(5s);
  }
  EXPECT_EQ(h.RunOnce(), 0) << h.last_run().err;
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE state=6"), 3) << h.last_run().out;
  // Every big file went through the worker: the largest is well past the inline threshold.
  EXPECT_GT(h.CountRows("SELECT MAX(bytes) FROM files"), 8 * 256 * 1024);
  return h.LoadStore();
}

TEST(Pipeline, LargeFilesGiveTheSameResourcesInBothStoresAndSurviveAKillMidDownload) {
  const Expected sqlite = RunLarge("sqlite", false);
  const Expected ndjson = RunLarge("ndjson", false);
  const Expected killed = RunLarge("ndjson", true);
  size_t total = 0;
  for (const auto& [type, ids] : ndjson.resources) {
    total += ids.size();
    auto it = sqlite.resources.find(type);
    ASSERT_NE(it, sqlite.resources.end()) << type;
    EXPECT_TRUE(it->second == ids) << type << ": sqlite " << it->second.size() << ", ndjson "
                                   << ids.size();
  }
  EXPECT_GT(total, 20000u);
  EXPECT_TRUE(ndjson.outcome.empty()) << ndjson.outcome.begin()->first;  // no doubled lines
  EXPECT_TRUE(killed.outcome.empty()) << killed.outcome.begin()->first;
  EXPECT_TRUE(killed.resources == ndjson.resources);
}

}  // namespace
}  // namespace p2p::testing

namespace p2p::testing {
namespace {

TEST(Pipeline, BadLinesAreRecordedWithoutStoppingTheFile) {
  HarnessOptions o;
  o.members = 40;
  o.faults = "file:badjson@every4";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
  EXPECT_EQ(DiffFromExpected(h), "");
  int64_t bad = h.CountRows("SELECT COUNT(*) FROM bad_lines");
  EXPECT_GT(bad, 0);
  EXPECT_EQ(h.CountRows("SELECT SUM(bad_lines) FROM files"), bad);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM bad_lines WHERE line_no=1 AND reason='not_json'"), bad);
  // The log names the file and the count, never the line's content.
  std::string log = ReadFile((h.dir() / "log" / "p2p-ingestd.log").string());
  EXPECT_NE(log.find("bad lines of"), std::string::npos);
}

}  // namespace
}  // namespace p2p::testing

namespace p2p::testing {
namespace {

TEST(Pipeline, SigtermExitsZeroWithinTenSecondsAndTheNextStartResumes) {
  HarnessOptions o;
  o.members = 80;
  o.job_delay = "100ms";
  o.concurrency = 4;
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  std::string err;
  auto d = h.StartDaemon(&err);
  ASSERT_NE(d, nullptr) << err;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(h.state_path()) &&
        h.CountRows("SELECT COUNT(*) FROM files WHERE state=1") >= 20) {
      break;
    }
    if (d->Wait(0ms).has_value()) FAIL() << ReadFile((h.dir() / "daemon.stderr").string());
    std::this_thread::sleep_for(20ms);
  }
  d->Signal(SIGTERM);
  auto code = d->Wait(10s);
  ASSERT_TRUE(code.has_value()) << "p2p-ingestd did not stop within 10 s of SIGTERM";
  EXPECT_EQ(*code, 0);
  ASSERT_EQ(h.RunOnce(), 0) << h.last_run().err;
  EXPECT_EQ(DiffFromExpected(h), "");
}

}  // namespace
}  // namespace p2p::testing
