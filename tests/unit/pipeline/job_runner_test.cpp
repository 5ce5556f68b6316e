// JobRunner against a scripted payer (one keep-alive connection, answers in order), with the real
// state DB and store:
//   * re-kicks are counted by cause, each against its own budget (export.max_rekicks for
//     exports reported failed, export.max_expired_rekicks for gone or expired ones);
//   * a $member-match the payer refuses as invalid ends the job failed (request_invalid) with an
//     error_detail an operator can act on, while real no-match / consent answers keep their
//     classes.
#include "pipeline/job_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/member_record.h"
#include "state/sql.h"
#include "support/run_sync.h"
#include "support/scripted_server.h"
#include "support/temp_dir.h"

namespace p2p::pipeline {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using test::HttpResponse;
using test::ScriptedServer;
using test::Step;

std::string TokenAnswer() {
  return HttpResponse(200, R"({"access_token":"tok","token_type":"Bearer","expires_in":3600})",
                      "Content-Type: application/json\r\n");
}

MemberRow Row() {
  MemberRow row;
  row.member_key = "M1";
  row.prior_payer = "bison";
  row.given = "Jay";
  row.family = "Young";
  row.birth_date = "2001-03-11";
  row.prior_coverage_id = "cov-1";
  row.coverage_start = "2020-01-01";
  row.opt_in_date = "2020-01-01";
  row.consent_start = "2020-01-01";
  row.consent_end = "2099-12-31";
  row.consent_policy = "regular";
  return row;
}

// The answers of one member's exchange, in the order the runner asks.
class Answers {
 public:
  Answers& Match(int status, const std::string& body) {
    return Add(HttpResponse(status, body, "Content-Type: application/fhir+json\r\n"));
  }
  Answers& Matched() {
    return Match(200, R"({"resourceType":"Parameters","parameter":[{"name":"groupId",)"
                      R"("valueString":"g1"}]})");
  }
  Answers& Kickoff() {
    ++exports_;
    return Add(
        HttpResponse(202, "", "Content-Location: /job/" + std::to_string(exports_) + "\r\n"));
  }
  Answers& Gone() { return Add(HttpResponse(410, "")); }
  Answers& Failed() { return Add(HttpResponse(200, R"({"status":"Failed"})")); }
  // A complete export of one Patient file, and the file.
  Answers& Complete(const std::string& file_url) {
    Add(HttpResponse(200, R"({"transactionTime":"2026-01-05T16:08:38.956Z","request":"x",)"
                          R"("requiresAccessToken":true,"output":[{"type":"Patient","url":")" +
                              file_url + R"("}],"error":[]})"));
    return Add(HttpResponse(200, R"({"resourceType":"Patient","id":"p1"})"
                                 "\n"));
  }
  test::Script script() const {
    test::Script s = steps_;
    s.push_back(Step::WaitClose());
    return s;
  }

 private:
  Answers& Add(std::string response) {
    steps_.push_back(Step::ReadRequest());
    steps_.push_back(Step::Send(std::move(response)));
    return *this;
  }
  test::Script steps_;
  int exports_ = 0;
};

class JobRunnerTest : public ::testing::Test {
 protected:
  // Starts the payer with `answers` and one member; runs the job until it is terminal.
  state::Job RunMember(const Answers& answers) {
    payer_server_ = std::make_unique<ScriptedServer>(std::vector<test::Script>{answers.script()});
    token_server_ = std::make_unique<ScriptedServer>(std::vector<test::Script>{
        {Step::ReadRequest(), Step::Send(TokenAnswer()), Step::WaitClose()}});
    options_.id = "bison";
    options_.name = "Bison";
    options_.base_url = payer_server_->Url("/v1/bison");
    options_.auth.token_url = token_server_->Url("/token");
    options_.auth.client_id = "c";
    options_.auth.client_secret = "s";
    options_.trusted_hosts = {"127.0.0.1"};
    options_.limits.requests_per_second = 1000;
    options_.retry.max_attempts = 1;
    options_.poll.min_interval = milliseconds(1);
    options_.request_timeout = milliseconds(5000);
    client_ = std::make_unique<PayerClient>(
        http_, options_, [] { return 0.5; }, metrics_);

    // A fresh state DB and store per run (a test may run several members one after another).
    const std::string n = std::to_string(++runs_);
    auto db = state::StateDb::Open(dir_.File("state" + n + ".db"));
    EXPECT_TRUE(db) << db.error().message;
    db_ = std::move(db).value();
    StoreOptions store_options;
    store_options.path = dir_.File("resources" + n + ".db");
    auto store = store::ResourceStore::Open(store_options);
    EXPECT_TRUE(store) << store.error().message;
    store_ = std::move(store).value();
    state::NewMember m;
    m.member_key = "M1";
    m.payer = "bison";
    m.row_json = EncodeMemberRow(Row());
    m.deadline = 4102444800;
    m.consent_end_days = 47481;  // 2099-12-31
    EXPECT_TRUE(db_->TakeIn("a.csv", {m}, 0, NowMs()));

    JobRunner runner(*db_, *store_, limits_, stopping_, counters_, nullptr);
    state::Job job;
    for (int round = 0; round < 50; ++round) {
      auto r = test::RunSync(io_, runner.Run(1, *client_));
      EXPECT_TRUE(r) << r.error().message;
      job = db_->LoadJob(1).value();
      if (IsTerminal(job.state)) break;
      // Due again now: the test does not wait out poll intervals.
      EXPECT_TRUE(state::Exec(db_->handle(), "UPDATE members SET next_ms=0", "due now"));
    }
    return job;
  }

  testing::TempDir dir_;
  int runs_ = 0;
  std::unique_ptr<ScriptedServer> token_server_;
  std::unique_ptr<ScriptedServer> payer_server_;
  asio::io_context io_;
  http::HttpClient http_{io_, http::ClientOptions{}};
  Metrics metrics_;
  PayerOptions options_;
  std::unique_ptr<PayerClient> client_;
  std::unique_ptr<state::StateDb> db_;
  std::unique_ptr<store::ResourceStore> store_;
  PipelineLimits limits_;
  std::atomic<bool> stopping_{false};
  RunCounters counters_;
};

// --- re-kick budgets ---

TEST_F(JobRunnerTest, TwoGoneExportsThenAFailedOneStillComplete) {
  options_.export_job.max_expired_rekicks = 2;
  options_.export_job.max_rekicks = 1;  // one shared counter would end the job at the failure
  Answers a;
  a.Matched().Kickoff().Gone().Kickoff().Gone().Kickoff().Failed().Kickoff();
  a.Complete("/file/1");
  const state::Job job = RunMember(a);
  EXPECT_EQ(JobStateName(job.state), std::string("complete")) << job.error_detail;
  EXPECT_EQ(job.rekicks, 3);
  EXPECT_EQ(job.expired_rekicks, 2);
  EXPECT_EQ(job.failed_rekicks(), 1);
  EXPECT_EQ(payer_server_->requests().size(), 10u);
}

TEST_F(JobRunnerTest, ANoFailedExportBudgetEndsTheJobAtTheFirstFailure) {
  options_.export_job.max_rekicks = 0;
  Answers a;
  a.Matched().Kickoff().Failed();
  const state::Job job = RunMember(a);
  EXPECT_EQ(JobStateName(job.state), std::string("failed"));
  EXPECT_EQ(job.error_class, "export_failed");
  EXPECT_EQ(job.error_detail, "export reported failure (after 0 re-kicks; export.max_rekicks: 0)");
  EXPECT_EQ(job.rekicks, 0);
}

TEST_F(JobRunnerTest, TheExpiredBudgetEndsTheJobWhateverFailuresCameBefore) {
  options_.export_job.max_expired_rekicks = 1;
  options_.export_job.max_rekicks = 5;
  Answers a;
  a.Matched().Kickoff().Failed().Kickoff().Gone().Kickoff().Gone();
  const state::Job job = RunMember(a);
  EXPECT_EQ(JobStateName(job.state), std::string("failed"));
  EXPECT_EQ(job.error_class, "export_gone");
  EXPECT_EQ(job.error_detail,
            "export status: HTTP 410 (after 1 re-kicks; export.max_expired_rekicks: 1)");
  EXPECT_EQ(job.failed_rekicks(), 1);
  EXPECT_EQ(job.expired_rekicks, 1);
}

// --- $member-match refusals ---

std::string Outcome(const std::string& code, const std::string& diagnostics) {
  return R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":")" + code +
         R"(","diagnostics":")" + diagnostics + R"("}]})";
}

TEST_F(JobRunnerTest, ARequestRefusedAsInvalidFailsTheJobWithWhatToDo) {
  const std::string why = "Consent.provision.actor: HRex 1.1 requires at least 2 actors";
  for (int status : {422, 400}) {
    SCOPED_TRACE(status);
    Answers a;
    a.Match(status, Outcome("required", why));
    const state::Job job = RunMember(a);
    EXPECT_EQ(JobStateName(job.state), std::string("failed"));
    EXPECT_EQ(job.error_class, "request_invalid");
    EXPECT_EQ(job.http_status, status);
    EXPECT_EQ(job.error_detail,
              "$member-match: the payer refused our request as invalid (HTTP " +
                  std::to_string(status) + ", HRex validation): " + why +
                  "; set self.identifier and payers[].identifier if it concerns the Consent");
  }
}

TEST_F(JobRunnerTest, WithBothPayersNamedTheDetailSaysSoAndTheConsentCarriesThem) {
  options_.identifier = {"http://hl7.org/fhir/sid/us-npi", "9876543210"};
  limits_.self = {"New Plan", "urn:oid:2.16.840.1.113883.6.300", "12345"};
  Answers a;
  a.Match(422, Outcome("invariant", "hrex-1: something else"));
  const state::Job job = RunMember(a);
  EXPECT_EQ(job.error_class, "request_invalid");
  EXPECT_EQ(job.error_detail,
            "$member-match: the payer refused our request as invalid (HTTP 422, HRex "
            "validation): hrex-1: something else; the Consent already names both payers "
            "(self.identifier, payers[].identifier): check the request against the payer's HRex "
            "version");
  const std::string body = payer_server_->requests().at(0).body;
  EXPECT_NE(body.find(R"("value":"9876543210"},"display":"Bison"})"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("value":"12345"},"display":"New Plan"})"), std::string::npos) << body;
}

TEST_F(JobRunnerTest, NoMatchAndConsentRefusalsKeepTheirClasses) {
  const struct {
    std::string code, text, state, error_class;
  } cases[] = {
      {"processing", "No member matches the submitted demographics and coverage", "no_match",
       "no_match"},
      {"business-rule", "Consent refused: provision.period does not cover today", "consent_refused",
       "consent_refused"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.code);
    Answers a;
    a.Match(422, Outcome(c.code, c.text));
    const state::Job job = RunMember(a);
    EXPECT_EQ(JobStateName(job.state), c.state);
    EXPECT_EQ(job.error_class, c.error_class);
    EXPECT_EQ(job.error_detail, c.text);
  }
}

}  // namespace
}  // namespace p2p::pipeline
