// SlotPool: first come, first served, never more than the capacity; Close() and capacity changes.
#include "http/slot_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

namespace p2p::http {
namespace {

namespace asio = boost::asio;

// Coroutines that take a slot and record "<name>" (or "<name>:closed") in `got`. Run() runs what
// is ready: a coroutine waiting for a slot waits on a timer that never expires.
class SlotPoolTest : public ::testing::Test {
 protected:
  void Take(const std::string& name) {
    asio::co_spawn(
        io,
        [this, name]() -> asio::awaitable<void> {
          const bool ok = co_await pool.Acquire();
          got.push_back(ok ? name : name + ":closed");
        },
        asio::detached);
  }
  void Run() {
    io.restart();
    io.poll();
  }
  asio::io_context io;
  std::vector<int> seen;  // in_use() as the observer was told it
  SlotPool pool{1, [this](int n) { seen.push_back(n); }};
  std::vector<std::string> got;
};

TEST_F(SlotPoolTest, WaitersAreServedInOrderWithinTheCapacity) {
  pool.SetCapacity(2);
  for (const char* n : {"a", "b", "c", "d"}) Take(n);
  Run();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(pool.in_use(), 2);
  EXPECT_EQ(pool.waiting(), 2u);
  pool.Release();
  Run();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(pool.in_use(), 2);
  pool.Release();
  pool.Release();
  Run();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(pool.in_use(), 1);
  for (int n : seen) EXPECT_LE(n, 2);
  EXPECT_EQ(seen.back(), 1);
}

TEST_F(SlotPoolTest, ANewcomerDoesNotPassTheQueue) {
  Take("a");
  Take("b");
  Run();
  // "b" waits; a slot frees and, before "b" runs, "c" asks: "b" has it.
  pool.Release();
  Take("c");
  Run();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(pool.in_use(), 1);
}

TEST_F(SlotPoolTest, CapacityChanges) {
  for (const char* n : {"a", "b", "c"}) Take(n);
  Run();
  pool.SetCapacity(3);
  Run();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  pool.SetCapacity(1);
  Take("d");
  pool.Release();
  pool.Release();
  Run();
  EXPECT_EQ(got.size(), 3u);  // 1 in use, capacity 1
  pool.Release();
  Run();
  EXPECT_EQ(got.back(), "d");
}

TEST_F(SlotPoolTest, CloseWakesWaitersWithFalse) {
  Take("a");
  Take("b");
  Run();
  pool.Close();
  Take("c");
  Run();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b:closed", "c:closed"}));
}

}  // namespace
}  // namespace p2p::http
