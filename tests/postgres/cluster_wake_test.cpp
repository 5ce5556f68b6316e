// ClusterWake against a throwaway PostgreSQL: a NOTIFY on the wake channel (as another instance
// or an operator's command sends it) reaches on_wake with its payer; after the listening
// connection is killed at the server, it listens again and the next NOTIFY arrives too.
#include "pipeline/cluster_wake.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/pg_cluster.h"

namespace p2p::pipeline {
namespace {

namespace asio = boost::asio;

class ClusterWakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    pg_ = test::PgCluster::Start(&why);
    ASSERT_NE(pg_, nullptr) << why;
  }

  // Runs the io_context until `done` or `limit`, sending `notify` (psql, another process) from
  // a thread once the listener listens.
  void RunUntil(ClusterWake& wake, const std::function<bool()>& done, const std::string& notify,
                std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::thread sender;
    bool sent = false;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(50));
      io_.restart();
      if (!sent && wake.listening()) {
        sent = true;
        sender = std::thread([this, notify] { pg_->Psql(notify); });
      }
    }
    if (sender.joinable()) sender.join();
  }

  std::unique_ptr<test::PgCluster> pg_;
  asio::io_context io_;
};

TEST_F(ClusterWakeTest, DeliversNotificationsAndListensAgainAfterItsConnectionIsKilled) {
  std::vector<std::string> woken;
  ClusterWake wake(io_, state::PgConnOptions{pg_->Dsn(), pg_->password(), "p2p_state"},
                   [&](const std::string& payer) { woken.push_back(payer); },
                   std::chrono::milliseconds(200));
  wake.Start();
  RunUntil(wake, [&] { return !woken.empty(); }, "NOTIFY p2p_wake, 'bison'");
  ASSERT_EQ(woken, std::vector<std::string>{"bison"});

  // The server ends the listener's session (a failover, an administrator): it comes back.
  ASSERT_TRUE(pg_->Psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                        "query LIKE 'LISTEN%'"));
  RunUntil(wake, [&] { return !wake.listening(); }, "SELECT 1", std::chrono::seconds(10));
  RunUntil(wake, [&] { return woken.size() == 2; }, "NOTIFY p2p_wake, ''");
  ASSERT_EQ(woken.size(), 2u);
  EXPECT_EQ(woken[1], "");  // every payer

  wake.Stop();
  bool stopped = false;
  asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
    co_await wake.Stopped();
    stopped = true;
  }, asio::detached);
  for (int i = 0; i < 100 && !stopped; ++i) {
    io_.run_for(std::chrono::milliseconds(20));
    io_.restart();
  }
  EXPECT_TRUE(stopped);
}

}  // namespace
}  // namespace p2p::pipeline
