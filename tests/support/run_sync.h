// RunSync: runs one coroutine on an io_context to completion and returns its result, for tests
// that drive the daemon's coroutine APIs (HttpClient, TokenCache, PayerClient) synchronously.
// Threading: runs `io` on the calling thread until it has no more work.
#pragma once

#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>

namespace p2p::test {

template <class T>
T RunSync(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::optional<T> out;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(task)); },
      boost::asio::detached);
  io.restart();
  io.run();
  return std::move(*out);
}

}  // namespace p2p::test
