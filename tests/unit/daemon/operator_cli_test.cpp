// The operator CLI against a real state DB in a temp dir. daemon/*.cpp are not part of any
// library, so the command sources are compiled into this test directly.
#include "../../../daemon/operator_actions.cpp"
#include "../../../daemon/operator_cli.cpp"
#include "../../../daemon/operator_compact.cpp"
#include "../../../daemon/operator_report.cpp"
#include "../../../daemon/state_setup.cpp"
#include "../../../daemon/store_setup.cpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "state/store_marks_db.h"
#include "store/ndjson_store.h"
#include "support/temp_dir.h"

namespace p2p::daemon {
namespace {

constexpr int64_t kNowMs = 1'800'000'000'000;  // 2027-01-15T08:00:00Z
constexpr int64_t kNowS = kNowMs / 1000;
constexpr const char* kPhi = "Patricia";

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(std::FILE* f) {
  std::string s;
  std::rewind(f);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class OperatorCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // The secret's variable is set nowhere: operator commands must not need it.
    std::ofstream(dir_.File("p2p.yaml")) << "state: {path: state.db}\n"
                                            "store: {path: r.db}\n"
                                            "status: {listen: 'off'}\n"
                                            "source: {path: inbox}\n"
                                            "payers:\n"
                                            "  - id: bison\n"
                                            "    base_url: https://bison.example/v1\n"
                                            "    auth: {token_url: https://bison.example/t, "
                                            "client_id: c, client_secret_env: P2P_OPCLI_UNSET}\n"
                                            "  - id: elk\n"
                                            "    base_url: https://elk.example/v1\n"
                                            "    auth: {token_url: https://elk.example/t, "
                                            "client_id: c, client_secret_env: P2P_OPCLI_UNSET}\n";
    std::filesystem::create_directory(dir_.File("inbox"));
  }

  Outcome Run(std::vector<std::string> args) {
    args.push_back("--config=" + dir_.File("p2p.yaml"));
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    Outcome o;
    o.code = RunOperatorCommandAt(args, out, err, kNowMs);
    o.out = Slurp(out);
    o.err = Slurp(err);
    return o;
  }

  state::StateDb& Db() {
    if (!db_) {
      auto db = state::StateDb::Open(dir_.File("state.db"));
      EXPECT_TRUE(db.ok()) << db.error().message;
      db_ = std::move(db).value();
    }
    return *db_;
  }

  // Takes members in (pending) and returns their job ids in order.
  std::vector<int64_t> Add(const std::vector<std::pair<std::string, std::string>>& members,
                           int64_t deadline = kNowS + 7 * 86400) {
    std::vector<state::NewMember> rows;
    for (const auto& [key, payer] : members) {
      rows.push_back(state::NewMember{key, payer, std::string("{\"given\":\"") + kPhi + "\"}",
                                      deadline, 20000, 2});
    }
    EXPECT_TRUE(Db().TakeIn("f" + std::to_string(++files_) + ".csv", rows, 0, kNowMs - 60000).ok());
    std::vector<int64_t> ids;
    auto st = state::Stmt::Prepare(Db().handle(), "SELECT id FROM members ORDER BY id");
    while (*st->Step("ids")) ids.push_back(st->Int(0));
    return std::vector<int64_t>(ids.end() - static_cast<long>(members.size()), ids.end());
  }

  // Moves a job along `path`, one committed transition a second apart from `start_ms`.
  void Walk(int64_t id, const std::vector<JobState>& path, int64_t start_ms,
            const std::string& error_class = "", int http_status = 0) {
    auto job = Db().LoadJob(id);
    ASSERT_TRUE(job.ok());
    int64_t at = start_ms;
    for (JobState s : path) {
      const JobState previous = job->state;
      job->state = s;
      if (s == JobState::kMatching) job->requested_ms = at;
      if (s == JobState::kPolling) job->poll_url = "https://bison.example/v1/job/77?secret=q";
      if (s == JobState::kFailed || s == JobState::kNoMatch) {
        job->error_class = error_class;
        job->http_status = http_status;
        job->error_detail = "GET /v1/job/77: " + std::to_string(http_status);
        job->attempts = 3;
      }
      ASSERT_TRUE(Db().SaveJob(*job, previous, at).ok());
      at += 1000;
    }
  }

  std::string StateOf(int64_t id) {
    return std::string(JobStateName(Db().LoadJob(id)->state));
  }

  testing::TempDir dir_{"p2p-opcli-"};
  std::unique_ptr<state::StateDb> db_;
  int files_ = 0;
};

TEST_F(OperatorCli, UsageErrorsExit64) {
  EXPECT_EQ(Run({"members"}).err.substr(0, 40), "p2p-ingestd: members needs list or show\n");
  EXPECT_EQ(Run({"members", "show"}).code, kOpExitUsage);
  Outcome o = Run({"retry"});
  EXPECT_EQ(o.code, kOpExitUsage);
  EXPECT_EQ(o.err.substr(0, o.err.find('\n')),
            "p2p-ingestd: retry needs a MEMBER_KEY or --state, not both");
  o = Run({"cancel", "m1", "--show-phi"});
  EXPECT_EQ(o.err.substr(0, o.err.find('\n')),
            "p2p-ingestd: unknown option for cancel: --show-phi");
  o = Run({"members", "list", "--state", "lost"});
  EXPECT_EQ(o.err.substr(0, o.err.find('\n')), "p2p-ingestd: --state: unknown state: lost");
  EXPECT_EQ(Run({"members", "list", "--limit", "0"}).code, kOpExitUsage);
}

TEST_F(OperatorCli, BadConfigExits78AndMissingStateDbExits70) {
  std::ofstream(dir_.File("p2p.yaml")) << "state: {path: 3}\nfoo: 1\n";
  EXPECT_EQ(Run({"status"}).code, kOpExitConfig);
  SetUp();
  Outcome o = Run({"status"});
  EXPECT_EQ(o.code, kOpExitSoftware);
  EXPECT_EQ(o.err, "state DB " + dir_.File("state.db") +
                       " does not exist yet (the daemon creates it when it first starts)\n");
  EXPECT_FALSE(std::filesystem::exists(dir_.File("state.db")));  // not created by the CLI
}

// With a PostgreSQL state the commands log in: its password is read for real (the payers'
// secrets still are not), and a problem with it is a configuration error, before any connection.
TEST_F(OperatorCli, APostgresStatesPasswordIsReadAndItsProblemsExit78) {
  const std::string payers =
      "payers:\n"
      "  - id: bison\n"
      "    base_url: https://bison.example/v1\n"
      "    auth: {token_url: https://bison.example/t, client_id: c, "
      "client_secret_env: P2P_OPCLI_UNSET}\n";
  std::ofstream(dir_.File("p2p.yaml"))
      << "state: {kind: postgres, dsn: 'host=127.0.0.1 port=1 dbname=p2p connect_timeout=1', "
         "password_file: pw}\n"
         "store: {kind: postgres, dsn: 'host=127.0.0.1 port=1 dbname=p2p', password_env: "
         "P2P_OPCLI_UNSET}\n"
         "source: {path: inbox}\n"
      << payers;
  Outcome o = Run({"status"});
  EXPECT_EQ(o.code, kOpExitConfig);
  EXPECT_NE(o.err.find("state.password_file: " + dir_.File("pw") +
                       ": cannot read: No such file or directory"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(o.err.find("P2P_OPCLI_UNSET"), std::string::npos) << o.err;
  std::ofstream(dir_.File("pw")) << "secret\n";
  std::filesystem::permissions(dir_.File("pw"), std::filesystem::perms::owner_read |
                                                    std::filesystem::perms::owner_write);
  o = Run({"status"});  // read: the login is tried (nothing listens on port 1)
  EXPECT_EQ(o.code, kOpExitSoftware);
  EXPECT_NE(o.err.find("state database"), std::string::npos) << o.err;
}

TEST_F(OperatorCli, StatusCountsStatesPayersDeadlinesAndErrorClasses) {
  auto ids = Add({{"m1", "bison"}, {"m2", "bison"}, {"m3", "elk"}});
  Add({{"late", "elk"}}, kNowS - 10);         // past, not requested
  Add({{"soon", "bison"}}, kNowS + 3600);      // due within 24h
  Walk(ids[0], {JobState::kMatching, JobState::kFailed}, kNowMs - 5000, "http_4xx", 404);
  Walk(ids[2], {JobState::kMatching, JobState::kNoMatch}, kNowMs - 3000, "no_match", 422);
  Outcome o = Run({"status"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("members: 5 jobs, 3 in progress\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("  pending          3\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("  failed           1\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("  bison  2            0         0         0        1       0\n"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("  elk    1            0         1         0        0       0\n"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("  past the deadline                        1\n"), std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("  due within 24h                           1\n"), std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("  no_match  1       2027-01-15T07:59:58Z\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("  http_4xx  1       2027-01-15T07:59:56Z\n"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find(kPhi), std::string::npos);
}

TEST_F(OperatorCli, MembersListFiltersAndPrintsNoDemographics) {
  auto ids = Add({{"m1", "bison"}, {"m2", "elk"}, {"m3", "bison"}});
  Walk(ids[2], {JobState::kMatching, JobState::kFailed}, kNowMs - 5000, "http_5xx", 503);
  Outcome o = Run({"members", "list", "--payer", "bison"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out,
            "MEMBER_KEY  PAYER  STATE    ATTEMPTS  UPDATED               ERROR_CLASS\n"
            "m1          bison  pending  0         2027-01-15T07:59:00Z  -\n"
            "m3          bison  failed   3         2027-01-15T07:59:56Z  http_5xx\n");
  o = Run({"members", "list", "--state", "failed"});
  EXPECT_EQ(o.out.find("m1"), std::string::npos);
  EXPECT_NE(o.out.find("m3"), std::string::npos);
  o = Run({"members", "list", "--limit", "1"});
  EXPECT_EQ(o.err, "(first 1 shown; --limit N for more)\n");
  EXPECT_EQ(Run({"members", "list", "--payer", "nobody"}).out, "no members\n");
}

TEST_F(OperatorCli, MembersShowTellsTheJobsStoryAndPhiOnlyOnRequest) {
  auto ids = Add({{"m1", "bison"}});
  Walk(ids[0], {JobState::kMatching, JobState::kMatched, JobState::kExporting, JobState::kPolling},
       kNowMs - 10000);
  auto job = Db().LoadJob(ids[0]);
  job->group_id = "G-9";
  ASSERT_TRUE(Db().SaveManifest(*job, job->state,
                                {state::FileRow{ids[0], 0, state::FileKind::kOutput, "Patient",
                                                "https://bison.example/f/0", state::FileState::kDone,
                                                5, 4, 1, 900, 1}},
                                kNowMs - 5000)
                  .ok());
  Outcome o = Run({"members", "show", "m1"});
  ASSERT_EQ(o.code, 0) << o.err;
  for (const char* want : {
           "job 1: member m1, payer bison\n",
           "  state          polling\n",
           "  group id       G-9\n",
           "  poll URL path  /v1/job/77\n",
           "    2027-01-15T07:59:50Z  pending -> matching   50.0s  -\n",
           "    2027-01-15T07:59:51Z  matching -> matched   1.0s   -\n",
           "    0  output  Patient  done   5      4       1    900    1\n",
       }) {
    EXPECT_NE(o.out.find(want), std::string::npos) << want << "in:\n" << o.out;
  }
  EXPECT_EQ(o.out.find(kPhi), std::string::npos);
  EXPECT_EQ(o.out.find("secret=q"), std::string::npos);
  o = Run({"members", "show", "m1", "--show-phi"});
  EXPECT_NE(o.out.find(std::string("  source row (PHI): {\"given\":\"") + kPhi + "\"}\n"),
            std::string::npos);
  o = Run({"members", "show", "m1", "--payer", "elk"});
  EXPECT_EQ(o.code, kOpExitNoMember);
  EXPECT_EQ(o.err, "no job for member m1 and payer elk\n");
}

TEST_F(OperatorCli, MembersShowPrintsReKicksByCauseAndARefusalsDetail) {
  auto ids = Add({{"m1", "bison"}});
  auto job = Db().LoadJob(ids[0]);
  job->state = JobState::kFailed;
  job->rekicks = 3;
  job->expired_rekicks = 2;
  job->error_class = "request_invalid";
  job->http_status = 422;
  job->error_detail =
      "$member-match: the payer refused our request as invalid (HTTP 422, HRex validation): "
      "Consent.provision.actor: HRex 1.1 requires at least 2 actors; set self.identifier and "
      "payers[].identifier if it concerns the Consent";
  ASSERT_TRUE(Db().SaveJob(*job, JobState::kPending, kNowMs - 1000).ok());
  Outcome o = Run({"members", "show", "m1"});
  ASSERT_EQ(o.code, 0) << o.err;
  for (const std::string& want : {
           std::string("  attempts       0 (polls 0, re-kicks 3)\n"),
           std::string("  re-kicks       1 for failed exports, 2 for gone or expired files\n"),
           std::string("  error class    request_invalid\n"),
           std::string("  HTTP status    422\n"),
           "  error detail   " + job->error_detail + "\n",
       }) {
    EXPECT_NE(o.out.find(want), std::string::npos) << want << "in:\n" << o.out;
  }
  // A retry starts both counts again.
  ASSERT_EQ(Run({"retry", "m1"}).code, 0);
  job = Db().LoadJob(ids[0]);
  EXPECT_EQ(job->rekicks, 0);
  EXPECT_EQ(job->expired_rekicks, 0);
}

TEST_F(OperatorCli, RetryByKeyRequeuesWithAttemptsResetAndRecordsTheEvent) {
  auto ids = Add({{"m1", "bison"}});
  Walk(ids[0], {JobState::kMatching, JobState::kFailed}, kNowMs - 5000, "http_4xx", 404);
  Outcome o = Run({"retry", "m1"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "job 1 (member m1, payer bison): failed -> pending\n");
  auto job = Db().LoadJob(ids[0]);
  EXPECT_EQ(job->state, JobState::kPending);
  EXPECT_EQ(job->attempts, 0);
  EXPECT_EQ(job->error_class, "");
  EXPECT_EQ(job->http_status, 0);
  EXPECT_EQ(job->requested_ms, kNowMs - 5000);  // the SLA keeps the first request
  auto ev = state::Stmt::Prepare(Db().handle(),
                                 "SELECT at_ms, from_state, to_state FROM events ORDER BY id DESC");
  ASSERT_TRUE(*ev->Step("last event"));
  EXPECT_EQ(ev->Int(0), kNowMs);
  EXPECT_EQ(ev->Int(1), static_cast<int64_t>(JobState::kFailed));
  EXPECT_EQ(ev->Int(2), static_cast<int64_t>(JobState::kPending));

  o = Run({"retry", "m1"});  // pending now
  EXPECT_EQ(o.code, kOpExitDataErr);
  EXPECT_EQ(o.err, "job 1 (member m1, payer bison) is pending: nothing to retry\n");
  EXPECT_EQ(Run({"retry", "nobody"}).code, kOpExitNoMember);
}

TEST_F(OperatorCli, RetryByStateTakesFailedAndCancelledButNoMatchOnlyByKey) {
  auto ids = Add({{"m1", "bison"}, {"m2", "bison"}, {"m3", "elk"}});
  Walk(ids[0], {JobState::kMatching, JobState::kFailed}, kNowMs - 5000, "http_5xx", 503);
  Walk(ids[1], {JobState::kMatching, JobState::kNoMatch}, kNowMs - 5000, "no_match", 422);
  Walk(ids[2], {JobState::kMatching, JobState::kFailed}, kNowMs - 5000, "http_5xx", 503);
  Outcome o = Run({"retry", "--state", "no_match"});
  EXPECT_EQ(o.code, kOpExitUsage);
  o = Run({"retry", "--state", "failed", "--payer", "bison"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "requeued 1 failed jobs of payer bison\n");
  EXPECT_EQ(StateOf(ids[0]), "pending");
  EXPECT_EQ(StateOf(ids[1]), "no_match");
  EXPECT_EQ(StateOf(ids[2]), "failed");
  o = Run({"retry", "m2"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(StateOf(ids[1]), "pending");
}

TEST_F(OperatorCli, RetrySkipsAJobWhoseMemberAlreadyHasALiveJob) {
  auto ids = Add({{"m1", "bison"}});
  Walk(ids[0], {JobState::kMatching, JobState::kFailed}, kNowMs - 5000, "http_5xx", 503);
  auto again = Add({{"m1", "bison"}});  // dropped again: a new job
  Outcome o = Run({"retry", "--state", "failed"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out,
            "job 1 (member m1, payer bison): skipped, job 2 is active or complete\n"
            "requeued 0 failed jobs (1 skipped)\n");
  EXPECT_EQ(StateOf(ids[0]), "failed");
  EXPECT_EQ(StateOf(again[0]), "pending");
}

TEST_F(OperatorCli, CancelStopsJobsInProgressOnly) {
  auto ids = Add({{"m1", "bison"}, {"m1", "elk"}});
  Walk(ids[1], {JobState::kMatching, JobState::kMatched, JobState::kExporting,
                JobState::kPolling, JobState::kDownloading, JobState::kComplete},
       kNowMs - 10000);
  Outcome o = Run({"cancel", "m1"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "job 1 (member m1, payer bison): pending -> cancelled\n");
  EXPECT_EQ(StateOf(ids[0]), "cancelled");
  EXPECT_EQ(StateOf(ids[1]), "complete");
  EXPECT_EQ(Db().LoadJob(ids[0])->error_class, "cancelled");
  o = Run({"cancel", "m1", "--payer", "elk"});
  EXPECT_EQ(o.code, kOpExitDataErr);
  EXPECT_EQ(o.err,
            "member m1 has no job in progress (newest: job 2 (member m1, payer elk) is "
            "complete)\n");
  EXPECT_EQ(Run({"cancel", "nobody"}).code, kOpExitNoMember);
  o = Run({"status"});
  EXPECT_NE(o.out.find("  cancelled  1"), std::string::npos) << o.out;
}

constexpr const char* kHeader =
    "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,"
    "coverage_start,opt_in_date,consent_start,consent_end,consent_policy\n";

std::string Row(const std::string& key, const std::string& payer = "bison") {
  return key + "," + payer +
         ",Patricia Ann,Person,1974-12-25,female,DH1,,2027-01-01,2027-01-03,2027-01-03,"
         "2028-01-03,regular\n";
}

TEST_F(OperatorCli, EnqueueRefusesBadRowsUnlessAcceptPartial) {
  const std::string file = dir_.File("new.csv");
  std::ofstream(file) << kHeader << Row("m1") << Row("m2", "moose") << Row("m3");
  Outcome o = Run({"enqueue", file});
  EXPECT_EQ(o.code, kOpExitDataErr);
  EXPECT_EQ(o.err, file + ":3: prior_payer: not a configured payer id\n" + file +
                       ": 1 problems; nothing enqueued (fix the rows, or --accept-partial to "
                       "enqueue the 2 good rows)\n");
  EXPECT_TRUE(std::filesystem::is_empty(dir_.File("inbox")));

  o = Run({"enqueue", file, "--accept-partial"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, file + ": 2 members enqueued as " + dir_.File("inbox/new.csv") +
                       " (1 problems; the daemon writes them to rejected/new.csv.errors)\n");
  EXPECT_EQ(ReadAll(dir_.File("inbox/new.csv")),
            ReadAll(file));
  // Only the file itself: no temporary left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.File("inbox")),
                          std::filesystem::directory_iterator()),
            1);
  o = Run({"enqueue", file, "--accept-partial"});
  EXPECT_EQ(o.code, kOpExitDataErr);
  EXPECT_EQ(o.err.substr(o.err.find('\n') + 1),
            file + ": new.csv is already waiting in the inbox; rename it\n");
}

TEST_F(OperatorCli, EnqueueRefusesANameAlreadyTakenInAndOtherExtensions) {
  const std::string file = dir_.File("f1.csv");
  std::ofstream(file) << kHeader << Row("m1");
  Add({{"x", "bison"}});  // takes in "f1.csv"
  Outcome o = Run({"enqueue", file});
  EXPECT_EQ(o.code, kOpExitDataErr);
  EXPECT_EQ(o.err, file + ": a file named f1.csv was already taken in; rename it\n");
  std::ofstream(dir_.File("m.txt")) << kHeader << Row("m1");
  EXPECT_EQ(Run({"enqueue", dir_.File("m.txt")}).code, kOpExitUsage);
  EXPECT_EQ(Run({"enqueue", dir_.File("missing.csv")}).code, kOpExitNoMember);
}

// `compact` on an NDJSON store: p2p.yaml's store is SQLite, nd.yaml points at an NDJSON one.
class CompactCli : public OperatorCli {
 protected:
  void SetUp() override {
    OperatorCli::SetUp();
    std::string yaml = ReadAll(dir_.File("p2p.yaml"));
    yaml.replace(yaml.find("store: {path: r.db}"), 19, "store: {kind: ndjson, path: nd}");
    std::ofstream(dir_.File("nd.yaml")) << yaml;
  }

  Outcome Compact() {
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    Outcome o;
    o.code = RunOperatorCommandAt({"compact", "--config", dir_.File("nd.yaml")}, out, err, kNowMs);
    o.out = Slurp(out);
    o.err = Slurp(err);
    return o;
  }

  static std::string Obs(const std::string& id, int v) {
    return R"({"resourceType":"Observation","id":")" + id + R"(","v":)" + std::to_string(v) + "}";
  }

  // Job `job` of member `member` stores `ids` (version `v`), published and recorded in the
  // state DB as its completion would.
  void Store(store::NdjsonStore& s, int64_t job, const std::string& member,
             const std::vector<std::string>& ids, int v) {
    auto w = s.Begin(store::FileContext{"bison", member, job, 0, "Observation", "t"});
    ASSERT_TRUE(w.ok()) << w.error().message;
    for (const auto& id : ids) ASSERT_TRUE((*w)->Put(id, Obs(id, v)).ok());
    ASSERT_TRUE((*w)->Commit().ok());
    auto marks = s.PublishJob(job);
    ASSERT_TRUE(marks.ok()) << marks.error().message;
    Record(*marks);
    ASSERT_TRUE(s.EndJob(job, store::JobEnd::kRecorded).ok());
  }

  void Record(const std::vector<store::StoreMark>& marks) {
    std::vector<state::StoreMarkRow> rows;
    for (const auto& m : marks) rows.push_back({m.type, m.ndjson_end, m.index_end, m.deleted_end});
    ASSERT_TRUE(state::RecordStoreMarks(Db(), rows).ok());
  }
};

TEST_F(CompactCli, KeepsOneLinePerPayerAndIdDropsDeletionsAndRecordsTheMarks) {
  {
    auto s = store::NdjsonStore::Open(dir_.File("nd"));
    ASSERT_TRUE(s.ok());
    Store(**s, 1, "m1", {"a", "b", "c"}, 1);
    Store(**s, 2, "m2", {"x"}, 1);
    Store(**s, 1, "m1", {"b", "c"}, 2);  // a refresh sends b and c again
    auto d = (*s)->Delete("bison", 0, {{"Observation", "x"}});
    ASSERT_TRUE(d.ok());
    Record(d->marks);
  }
  Outcome o = Compact();
  EXPECT_EQ(o.code, kOpExitOk) << o.err;
  EXPECT_EQ(o.out, "Observation.ndjson: 6 lines before, 3 after (0.0 MB -> 0.0 MB)\n");
  EXPECT_EQ(ReadAll(dir_.File("nd/Observation.ndjson")),
            Obs("a", 1) + "\n" + Obs("b", 2) + "\n" + Obs("c", 2) + "\n");
  EXPECT_EQ(ReadAll(dir_.File("nd/Observation.deleted")), "");
  auto marks = state::LoadStoreMarks(Db());
  ASSERT_TRUE(marks.ok());
  const auto& m = marks->at("Observation");
  EXPECT_EQ(m.ndjson_end, static_cast<int64_t>(ReadAll(dir_.File("nd/Observation.ndjson")).size()));
  EXPECT_EQ(m.index_end, static_cast<int64_t>(ReadAll(dir_.File("nd/Observation.index")).size()));
  EXPECT_EQ(m.deleted_end, 0);
  // Again: nothing left to drop, and the marks still agree with the files.
  o = Compact();
  EXPECT_EQ(o.code, kOpExitOk) << o.err;
  EXPECT_EQ(o.out, "Observation.ndjson: 3 lines before, 3 after (0.0 MB -> 0.0 MB)\n");
}

TEST_F(CompactCli, RefusesWhileTheDaemonHoldsTheStore) {
  auto daemon = store::NdjsonStore::Open(dir_.File("nd"));  // stands for the running daemon
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->LockExclusive().ok());
  Db();  // the state DB exists
  Outcome o = Compact();
  EXPECT_EQ(o.code, kOpExitTempFail);
  EXPECT_EQ(o.err, "compact: ndjson store: " + dir_.File("nd") +
                       " is in use by another process (it holds " + dir_.File("nd/.lock") +
                       "; is p2p-ingestd running?); stop the daemon first, then run compact "
                       "again\n");
  daemon->reset();
  EXPECT_EQ(Compact().code, kOpExitOk);
}

TEST_F(CompactCli, ASqliteStoreHasNothingToDoAndABadConfigExits78) {
  Db();
  Outcome o = Run({"compact"});
  EXPECT_EQ(o.code, kOpExitOk);
  EXPECT_EQ(o.out, "store " + dir_.File("r.db") +
                       " (sqlite) holds one row per (payer, id) already: nothing to do\n");
  std::ofstream(dir_.File("nd.yaml")) << "store: {kind: tape}\n";
  o = Compact();
  EXPECT_EQ(o.code, kOpExitConfig);
  EXPECT_NE(o.err.find("nd.yaml:1: store.kind"), std::string::npos) << o.err;
}

TEST(OperatorFormat, DurationsAndTimes) {
  EXPECT_EQ(FormatDurationMs(850), "850ms");
  EXPECT_EQ(FormatDurationMs(12'345), "12.3s");
  EXPECT_EQ(FormatDurationMs(245'000), "4m05s");
  EXPECT_EQ(FormatDurationMs(11'520'000), "3h12m");
  EXPECT_EQ(FormatDurationMs(187'200'000), "2d04h");
  EXPECT_EQ(FormatTimeMs(0), "-");
  EXPECT_EQ(FormatTimeMs(kNowMs), "2027-01-15T08:00:00Z");
}

}  // namespace
}  // namespace p2p::daemon
