// The status endpoint as an attack surface: loopback by default, a bearer token that
// only the Authorization header carries (never a query string) and that no answer echoes, GET
// only, and bounded requests. status_server_test.cpp covers 405/413/431 and the non-loopback
// refusal; these are the remaining rules.
#include "status/status_server.h"

// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <optional>
#include <string>
#include <thread>

#include "state/state_db.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace p2p {
namespace {

namespace net = boost::asio;
using p2p::testing::HttpClient;
using p2p::testing::HttpResponse;

constexpr char kToken[] = "st4tus-t0ken-value";

class StatusSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = state::StateDb::Open(dir_.File("state.db"));
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(db).value();
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
  void Start(StatusOptions options) {
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<StatusServer>(io_, options, *db_, metrics_, [] { return true; });
    auto bound = server_->Start();
    ASSERT_TRUE(bound) << bound.error().message;
    client_.emplace("http://" + *bound);
    client_->set_timeout(std::chrono::milliseconds(2000));
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }

  p2p::testing::TempDir dir_{"p2p-status-sec-"};
  std::unique_ptr<state::StateDb> db_;
  Metrics metrics_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::unique_ptr<StatusServer> server_;
  std::thread thread_;
  std::optional<HttpClient> client_;
};

TEST_F(StatusSecurity, DefaultListenIsLoopback) {
  EXPECT_EQ(StatusOptions{}.listen, "127.0.0.1:8787");
  EXPECT_TRUE(IsLoopbackBindHost("127.0.0.1"));
  EXPECT_FALSE(IsLoopbackBindHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackBindHost("::"));
}

TEST_F(StatusSecurity, TokenInTheQueryStringIsNotAccepted) {
  StatusOptions options;
  options.token = kToken;
  Start(options);
  for (const char* query : {"?access_token=", "?token=", "?bearer="}) {
    HttpResponse r = client_->Get(std::string("/status") + query + kToken);
    EXPECT_EQ(r.status, 401) << query;
  }
  EXPECT_EQ(client_->Get("/status", {{"Authorization", std::string("Bearer ") + kToken}}).status,
            200);
}

TEST_F(StatusSecurity, NoAnswerEchoesTheToken) {
  StatusOptions options;
  options.token = kToken;
  Start(options);
  const std::string auth = std::string("Bearer ") + kToken;
  for (const char* path : {"/status", "/metrics", "/healthz", "/readyz", "/nope"}) {
    HttpResponse r = client_->Get(path, {{"Authorization", auth}});
    EXPECT_EQ(r.body.find(kToken), std::string::npos) << path;
    for (const auto& [name, value] : r.headers) {
      EXPECT_EQ(value.find(kToken), std::string::npos) << path << " " << name;
    }
  }
  HttpResponse wrong = client_->Get("/status", {{"Authorization", "Bearer st4tus-t0ken-valuX"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body.find("st4tus"), std::string::npos);
}

TEST_F(StatusSecurity, OnlyGetEvenWithTheToken) {
  StatusOptions options;
  options.token = kToken;
  Start(options);
  const std::string auth = std::string("Bearer ") + kToken;
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}) {
    HttpResponse r = client_->Request(method, "/status", "", {{"Authorization", auth}});
    EXPECT_EQ(r.status, 405) << method;
  }
}

}  // namespace
}  // namespace p2p
