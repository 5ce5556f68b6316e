// Export dialects end to end: p2p-ingestd against p2p-sandbox with each export
// operation (group-export with _type/_typeFilter, davinci-data-export, patient-export after an
// identifier-only $member-match), error[] files recorded per job and never stored,
// requiresAccessToken false (no token on files), paged manifests (every page's files), and an
// Expires that has passed (re-kick, no file fetched). Each test fails if its feature is removed.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "integration/daemon_harness.h"
#include "support/child_process.h"
#include "support/http_client.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

namespace fs = std::filesystem;

// A harness of a few members, with the payer's `export:` block appended to its config.
struct DialectRun {
  explicit DialectRun(std::string flavor, std::vector<std::string> sandbox_args,
                      std::string export_yaml)
      : h([&] {
          HarnessOptions o;
          o.members = 8;
          o.seed = 11;
          o.flavor = std::move(flavor);
          o.concurrency = 4;
          o.sandbox_args = std::move(sandbox_args);
          return o;
        }()) {
    error = h.Start();
    if (!error.empty()) return;
    std::ofstream(h.config_path(), std::ios::app) << "    export:\n" << export_yaml;
    h.DropRoster("members.csv");
    if (h.RunOnce() != 0) error = "run failed: " + h.last_run().err;
  }
  DaemonHarness h;
  std::string error;
};

// Expected resources of the members expected to complete, only of `types` (all when empty).
std::map<std::string, std::set<std::pair<std::string, std::string>>> ExpectedOf(
    const DaemonHarness& h, const std::set<std::string>& types = {}) {
  auto e = h.LoadExpected().resources;
  if (types.empty()) return e;
  std::map<std::string, std::set<std::pair<std::string, std::string>>> out;
  for (auto& [type, ids] : e) {
    if (types.count(type)) out[type] = ids;
  }
  return out;
}

using Resources = std::map<std::string, std::set<std::pair<std::string, std::string>>>;

// Without the types that have no resources (a store may hold empty tables).
Resources NonEmpty(Resources r) {
  std::erase_if(r, [](const auto& entry) { return entry.second.empty(); });
  return r;
}

int CompleteExpected(const DaemonHarness& h) {
  int n = 0;
  for (const auto& [key, outcome] : h.LoadExpected().outcome) n += outcome == "complete";
  return n;
}

int CountState(const DaemonHarness& h, const std::string& state) {
  int n = 0;
  for (const auto& [key, s] : h.MemberStates()) n += s.rfind(state, 0) == 0;
  return n;
}

// A number from the sandbox's /admin/stats: `path` like {"kickoffs", "patient-export"}.
int64_t Stat(const DaemonHarness& h, std::vector<std::string> path) {
  HttpClient client(h.SandboxUrl());
  HttpResponse r = client.Get("/admin/stats");
  if (r.status != 200) return -1;
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(r.body).get(e)) return -1;
  for (const std::string& key : path) {
    if (e[key].get(e)) return -1;
  }
  int64_t n = -1;
  if (e.get_int64().get(n)) {
    uint64_t u = 0;
    if (e.get_uint64().get(u)) return -1;
    n = static_cast<int64_t>(u);
  }
  return n;
}

// Every log file's text (the daemon logs to <dir>/log).
std::string Logs(const DaemonHarness& h) {
  std::string all;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(h.dir() / "log", ec)) {
    std::ifstream in(f.path());
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  return all + h.last_run().out + h.last_run().err;
}

TEST(ExportDialects, GroupExportHonoursTypeAndTypeFilter) {
  constexpr char kCutoff[] = "2024-01-01T00:00:00Z";
  DialectRun run("bulk-v2", {},
                 "      types: [Patient, Encounter, Observation]\n"
                 "      type_filters: [\"Observation?_lastUpdated=ge2024-01-01T00:00:00Z\"]\n");
  ASSERT_EQ(run.error, "");
  ASSERT_GT(CompleteExpected(run.h), 0);
  EXPECT_EQ(CountState(run.h, "complete"), CompleteExpected(run.h));
  auto stored = NonEmpty(run.h.LoadStore().resources);
  auto expected = ExpectedOf(run.h, {"Patient", "Encounter", "Observation"});
  // _type: only the three types; Patient and Encounter whole.
  EXPECT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored["Patient"], expected["Patient"]);
  EXPECT_EQ(stored["Encounter"], expected["Encounter"]);
  // _typeFilter: only Observations updated since the cutoff, and some older ones were left out.
  const auto& obs = stored["Observation"];
  EXPECT_FALSE(obs.empty());
  EXPECT_LT(obs.size(), expected["Observation"].size());
  for (const auto& id : obs) EXPECT_TRUE(expected["Observation"].count(id)) << id.second;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(run.h.store_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT COUNT(*) FROM \"Observation\" WHERE "
                               "json_extract(json, '$.meta.lastUpdated') < ?1",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(st, 1, kCutoff, -1, SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 0) << "Observations older than the _typeFilter cutoff";
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(ExportDialects, DavinciDataExportPostsParametersAndLandsEveryResource) {
  DialectRun run("bulk-v2", {},
                 "      operation: davinci-data-export\n"
                 "      davinci_path: /bulk-data/r4/Group/{group_id}/$davinci-data-export\n");
  ASSERT_EQ(run.error, "");
  const int complete = CompleteExpected(run.h);
  ASSERT_GT(complete, 0);
  EXPECT_EQ(CountState(run.h, "complete"), complete);
  EXPECT_EQ(NonEmpty(run.h.LoadStore().resources), NonEmpty(ExpectedOf(run.h)));
  EXPECT_EQ(Stat(run.h, {"kickoffs", "davinci-data-export"}), complete);
  EXPECT_EQ(Stat(run.h, {"kickoffs", "group-export"}), 0);
}

TEST(ExportDialects, PatientExportAfterAnIdentifierOnlyMatch) {
  DialectRun run("1up", {"--match-answer", "identifier-only"},
                 "      operation: patient-export\n"
                 "      patient_path: /bulk-data/r4/Patient/$export\n");
  ASSERT_EQ(run.error, "");
  const int complete = CompleteExpected(run.h);
  ASSERT_GT(complete, 0);
  EXPECT_EQ(CountState(run.h, "complete"), complete)
      << ::testing::PrintToString(run.h.MemberStates());
  EXPECT_EQ(NonEmpty(run.h.LoadStore().resources), NonEmpty(ExpectedOf(run.h)));
  EXPECT_EQ(Stat(run.h, {"kickoffs", "patient-export"}), complete);
  EXPECT_EQ(run.h.CountRows("SELECT COUNT(*) FROM members WHERE group_id IS NOT NULL"), 0);
}

TEST(ExportDialects, ErrorFilesAreRecordedPerJobAndNeverStored) {
  DialectRun run("bulk-v2", {"--error-files", "3", "--file-expires", "1h"},
                 "      max_rekicks: 0\n");
  ASSERT_EQ(run.error, "");
  const int complete = CompleteExpected(run.h);
  ASSERT_GT(complete, 0);
  EXPECT_EQ(CountState(run.h, "complete"), complete);
  // Not stored: the store holds exactly the expected resources, no OperationOutcome table.
  EXPECT_EQ(NonEmpty(run.h.LoadStore().resources), NonEmpty(ExpectedOf(run.h)));
  // Recorded per job: 3 issues each, 2 error/processing and 1 warning/not-found.
  EXPECT_EQ(run.h.CountRows("SELECT COUNT(DISTINCT job_id) FROM export_issues"), complete);
  EXPECT_EQ(run.h.CountRows("SELECT COUNT(*) FROM export_issues WHERE severity='error' AND "
                            "code='processing'"),
            2 * complete);
  EXPECT_EQ(run.h.CountRows("SELECT COUNT(*) FROM export_issues WHERE severity='warning' AND "
                            "code='not-found'"),
            complete);
  EXPECT_EQ(run.h.CountRows("SELECT COUNT(*) FROM files WHERE kind=1 AND state=1 AND lines=3 "
                            "AND stored=0"),
            complete);
  // Expires (an hour ahead) recorded with the manifest.
  EXPECT_EQ(run.h.CountRows("SELECT COUNT(*) FROM export_pages WHERE expires_ms > "
                            "CAST(strftime('%s','now') AS INTEGER) * 1000"),
            complete);
  // The diagnostics stay in the state DB: never in logs, and `members show` shows counts.
  EXPECT_EQ(Logs(run.h).find("SANDBOX-DIAGNOSTIC"), std::string::npos);
  std::string key;
  for (const auto& [k, outcome] : run.h.LoadExpected().outcome) {
    if (outcome == "complete" && key.empty()) key = k;
  }
  auto show =
      RunCommand(IngestdExecutable(), {"members", "show", key, "--config", run.h.config_path()});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("export errors"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("processing"), std::string::npos) << show.out;
  EXPECT_EQ(show.out.find("SANDBOX-DIAGNOSTIC"), std::string::npos) << show.out;
}

TEST(ExportDialects, RequiresAccessTokenFalseSendsNoTokenWithFiles) {
  DialectRun run("bulk-v2", {"--requires-token", "false"}, "      max_rekicks: 0\n");
  ASSERT_EQ(run.error, "");
  ASSERT_GT(CompleteExpected(run.h), 0);
  EXPECT_EQ(CountState(run.h, "complete"), CompleteExpected(run.h));
  EXPECT_EQ(NonEmpty(run.h.LoadStore().resources), NonEmpty(ExpectedOf(run.h)));
  EXPECT_GT(Stat(run.h, {"file_requests_without_token"}), 0);
  EXPECT_EQ(Stat(run.h, {"file_requests_with_token"}), 0);
}

TEST(ExportDialects, PagedManifestsDownloadEveryPagesFiles) {
  DialectRun run("bulk-v2", {"--manifest-page-size", "2"}, "      max_rekicks: 0\n");
  ASSERT_EQ(run.error, "");
  ASSERT_GT(CompleteExpected(run.h), 0);
  EXPECT_EQ(CountState(run.h, "complete"), CompleteExpected(run.h));
  EXPECT_EQ(NonEmpty(run.h.LoadStore().resources), NonEmpty(ExpectedOf(run.h)));
  // Up to 9 files at 2 a page: several pages per job were read.
  EXPECT_GE(run.h.CountRows("SELECT MIN(pages) FROM export_pages"), 3);
  EXPECT_EQ(run.h.CountRows("SELECT COUNT(*) FROM export_pages WHERE next_url != ''"), 0);
}

TEST(ExportDialects, PassedExpiresReKicksWithoutFetchingFiles) {
  DialectRun run("bulk-v2", {"--file-expires", "0s"}, "      max_expired_rekicks: 2\n");
  ASSERT_EQ(run.error, "");
  const int matched = CompleteExpected(run.h);
  ASSERT_GT(matched, 0);
  EXPECT_EQ(run.h.CountRows("SELECT COUNT(*) FROM members WHERE state=10 AND "
                            "error_class='expired' AND rekicks=2"),
            matched)
      << run.h.last_run().out;
  EXPECT_EQ(Stat(run.h, {"kickoffs", "group-export"}), 3 * matched);
  EXPECT_EQ(Stat(run.h, {"file_requests_with_token"}), 0);
  EXPECT_EQ(Stat(run.h, {"file_requests_without_token"}), 0);
}

}  // namespace
}  // namespace p2p::testing
