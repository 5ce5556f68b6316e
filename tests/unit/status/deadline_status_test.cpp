// Deadline reporting in /status, /metrics and the config key deadline.at_risk_within.
// property_tree pulls in boost/bind.hpp, which otherwise prints a deprecation note.
#define BOOST_BIND_GLOBAL_PLACEHOLDERS
// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "config/config.h"
#include "state/state_db.h"
#include "status/status_server.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace p2p {
namespace {

namespace net = boost::asio;
using p2p::testing::HttpClient;
using p2p::testing::HttpResponse;

constexpr int64_t kNowMs = 1'800'000'000'000;  // the server's fixed clock
constexpr int64_t kNowS = kNowMs / 1000;
constexpr int64_t kHour = 3600;

bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

class DeadlineStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = state::StateDb::Open(dir_.File("state.db"));
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(db).value();
    // bison: one requested on time, one requested late, one waiting past its deadline, one
    // waiting due in 47h (at risk), one due in 49h (not yet). elk: one due in 1h (at risk).
    Add("bison", kNowS - 48 * kHour, (kNowS - 49 * kHour) * 1000);
    Add("bison", kNowS - 48 * kHour, (kNowS - 47 * kHour) * 1000);
    Add("bison", kNowS - 1, 0);
    Add("bison", kNowS + 47 * kHour, 0);
    Add("bison", kNowS + 49 * kHour, 0);
    Add("elk", kNowS + kHour, 0);
  }
  void TearDown() override {
    if (thread_.joinable()) {
      net::post(io_, [this] {
        server_->Stop();
        work_.reset();
      });
      thread_.join();
    }
  }

  void Add(const std::string& payer, int64_t deadline, int64_t requested_ms) {
    const int64_t id = ++members_;
    state::NewMember m{"m" + std::to_string(id), payer, "{}", deadline, 30000, 1};
    ASSERT_TRUE(db_->TakeIn("f" + std::to_string(id) + ".csv", {m}, 0, kNowMs));
    if (requested_ms == 0) return;
    auto job = db_->LoadJob(id);
    ASSERT_TRUE(job) << job.error().message;
    job->state = JobState::kMatching;
    job->requested_ms = requested_ms;
    ASSERT_TRUE(db_->SaveJob(*job, JobState::kPending, requested_ms));
  }

  void StartServer(StatusServerSettings settings = {}) {
    settings.now_ms = [] { return kNowMs; };
    settings.cache_ttl = std::chrono::milliseconds(0);
    StatusOptions options;
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<StatusServer>(
        io_, options, *db_, metrics_, [] { return true; }, settings);
    auto bound = server_->Start();
    ASSERT_TRUE(bound) << bound.error().message;
    client_.emplace("http://" + *bound);
    client_->set_timeout(std::chrono::milliseconds(2000));
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }

  boost::property_tree::ptree Status() {
    HttpResponse r = client_->Get("/status");
    EXPECT_EQ(r.status, 200) << r.error;
    boost::property_tree::ptree tree;
    std::istringstream in(r.body);
    boost::property_tree::read_json(in, tree);
    return tree;
  }

  p2p::testing::TempDir dir_{"p2p-deadline-status-"};
  std::unique_ptr<state::StateDb> db_;
  Metrics metrics_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::unique_ptr<StatusServer> server_;
  std::thread thread_;
  std::optional<HttpClient> client_;
  int64_t members_ = 0;
};

TEST_F(DeadlineStatusTest, StatusReportsOnTimeLateAndAtRiskPerPayer) {
  StartServer();
  auto json = Status();
  EXPECT_EQ(json.get<int64_t>("deadlines.at_risk_within_s"), 48 * kHour);
  EXPECT_EQ(json.get<int64_t>("deadlines.on_time"), 1);
  EXPECT_EQ(json.get<int64_t>("deadlines.late"), 2);
  EXPECT_EQ(json.get<int64_t>("deadlines.at_risk"), 2);
  std::vector<std::tuple<std::string, int64_t, int64_t, int64_t>> payers;
  for (const auto& [_, p] : json.get_child("deadlines.payers")) {
    payers.emplace_back(p.get<std::string>("payer"), p.get<int64_t>("on_time"),
                        p.get<int64_t>("late"), p.get<int64_t>("at_risk"));
  }
  EXPECT_EQ(payers, (std::vector<std::tuple<std::string, int64_t, int64_t, int64_t>>{
                        {"bison", 1, 2, 1}, {"elk", 0, 0, 1}}));
}

TEST_F(DeadlineStatusTest, TheAtRiskWindowComesFromTheSettings) {
  StatusServerSettings settings;
  settings.deadline_at_risk_s = 50 * kHour;
  StartServer(settings);
  auto json = Status();
  EXPECT_EQ(json.get<int64_t>("deadlines.at_risk_within_s"), 50 * kHour);
  EXPECT_EQ(json.get<int64_t>("deadlines.at_risk"), 3);
}

TEST_F(DeadlineStatusTest, MetricsHaveOneGaugePerPayerAndStatus) {
  StartServer();
  HttpResponse r = client_->Get("/metrics");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(HasLine(r.body, "# TYPE p2p_deadline_members gauge")) << r.body;
  EXPECT_TRUE(HasLine(r.body, "p2p_deadline_members{payer=\"bison\",status=\"on_time\"} 1"));
  EXPECT_TRUE(HasLine(r.body, "p2p_deadline_members{payer=\"bison\",status=\"late\"} 2"));
  EXPECT_TRUE(HasLine(r.body, "p2p_deadline_members{payer=\"bison\",status=\"at_risk\"} 1"));
  EXPECT_TRUE(HasLine(r.body, "p2p_deadline_members{payer=\"elk\",status=\"on_time\"} 0"));
  EXPECT_TRUE(HasLine(r.body, "p2p_deadline_members{payer=\"elk\",status=\"at_risk\"} 1"));
  // Once elk's member is requested in time, its at-risk gauge drops back to 0 at the next scrape.
  auto job = db_->LoadJob(6);
  ASSERT_TRUE(job);
  job->state = JobState::kMatching;
  job->requested_ms = kNowMs;
  ASSERT_TRUE(db_->SaveJob(*job, JobState::kPending, kNowMs));
  r = client_->Get("/metrics");
  EXPECT_TRUE(HasLine(r.body, "p2p_deadline_members{payer=\"elk\",status=\"on_time\"} 1"));
  EXPECT_TRUE(HasLine(r.body, "p2p_deadline_members{payer=\"elk\",status=\"at_risk\"} 0"));
}

TEST(DeadlineConfig, AtRiskWithinDefaultsTo48HoursAndIsRead) {
  EXPECT_EQ(Options{}.deadline.at_risk_within, std::chrono::hours(48));
  DecodedOptions d = DecodeOptions("deadline:\n  at_risk_within: 3d\n", "/etc");
  EXPECT_TRUE(d.problems.empty());
  EXPECT_EQ(d.options.deadline.at_risk_within, std::chrono::hours(72));
}

TEST(DeadlineConfig, AtRiskWithinMustBeZeroToSevenDays) {
  auto problem = [](const std::string& value) {
    DecodedOptions d = DecodeOptions("deadline:\n  at_risk_within: " + value + "\n", "/etc");
    for (const ConfigProblem& p : d.problems) return p.path + ": " + p.message;
    for (const ConfigProblem& p : ValidateOptions(d.options)) {
      if (p.path.starts_with("deadline")) return p.path + ": " + p.message;
    }
    return std::string();
  };
  EXPECT_EQ(problem("0s"), "");
  EXPECT_EQ(problem("7d"), "");
  EXPECT_EQ(problem("8d"), "deadline.at_risk_within: must be 0..7d");
  EXPECT_NE(problem("soon"), "");
}

}  // namespace
}  // namespace p2p
