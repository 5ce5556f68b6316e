// SlotPool: first come, first served, never more than the capacity; Close() and capacity changes.
#include "http/slot_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <string>
#include <vector>

namespace p2p::http {
namespace {

namespace asio = boost::asio;

// Spawns a coroutine that takes a slot and records "<name>" (or "<name>:closed"). The tests run
// what is ready (poll): a coroutine waiting for a slot waits on a timer that never expires.
void Take(asio::io_context& io, SlotPool& pool, std::string name, std::vector<std::string>& got) {
  asio::co_spawn(
      io,
      [&pool, name, &got]() -> asio::awaitable<void> {
        const bool ok = co_await pool.Acquire();
        got.push_back(ok ? name : name + ":closed");
      },
      asio::detached);
}

TEST(SlotPool, WaitersAreServedInOrderWithinTheCapacity) {
  asio::io_context io;
  std::vector<int> seen;
  SlotPool pool(2, [&seen](int n) { seen.push_back(n); });
  std::vector<std::string> got;
  for (const char* n : {"a", "b", "c", "d"}) Take(io, pool, n, got);
  io.poll();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(pool.in_use(), 2);
  EXPECT_EQ(pool.waiting(), 2u);
  pool.Release();
  io.restart();
  io.poll();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(pool.in_use(), 2);
  pool.Release();
  pool.Release();
  io.restart();
  io.poll();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(pool.in_use(), 1);
  for (int n : seen) EXPECT_LE(n, 2);
  EXPECT_EQ(seen.back(), 1);
}

TEST(SlotPool, ANewcomerDoesNotPassTheQueue) {
  asio::io_context io;
  SlotPool pool(1);
  std::vector<std::string> got;
  Take(io, pool, "a", got);
  Take(io, pool, "b", got);
  io.poll();
  // "b" waits; a slot frees and, before "b" runs, "c" asks: "b" has it.
  pool.Release();
  Take(io, pool, "c", got);
  io.restart();
  io.poll();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(pool.in_use(), 1);
}

TEST(SlotPool, CapacityChanges) {
  asio::io_context io;
  SlotPool pool(1);
  std::vector<std::string> got;
  for (const char* n : {"a", "b", "c"}) Take(io, pool, n, got);
  io.poll();
  pool.SetCapacity(3);
  io.restart();
  io.poll();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  pool.SetCapacity(1);
  Take(io, pool, "d", got);
  pool.Release();
  pool.Release();
  io.restart();
  io.poll();
  EXPECT_EQ(got.size(), 3u);  // 1 in use, capacity 1
  pool.Release();
  io.restart();
  io.poll();
  EXPECT_EQ(got.back(), "d");
}

TEST(SlotPool, CloseWakesWaitersWithFalse) {
  asio::io_context io;
  SlotPool pool(1);
  std::vector<std::string> got;
  Take(io, pool, "a", got);
  Take(io, pool, "b", got);
  io.poll();
  pool.Close();
  Take(io, pool, "c", got);
  io.restart();
  io.poll();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b:closed", "c:closed"}));
}

}  // namespace
}  // namespace p2p::http
