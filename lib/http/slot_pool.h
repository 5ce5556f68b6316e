// A pool of N slots shared by the coroutines of one io_context, served first come, first
// served: what bounds work over all payers (requests in flight in HttpClient, file downloads in
// the pipeline), so that the memory that work holds (connections and their buffers, line
// checkers, store writers) is bounded by configuration and not by the number of payers or jobs.
//
// A slot is taken by Acquire() and given back by Release(), explicitly: a coroutine abandoned
// when the io_context stops must not touch the pool, which may be gone by then. Close() wakes
// every waiter with false and makes later Acquire()s return false at once (shutdown).
// SetCapacity() may lower the capacity below in_use(): nobody then gets a slot until enough are
// released. `observer` (optional) is told in_use() after every change (a metrics gauge).
//
// Threading: io_context thread only.
#pragma once

#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <memory>

namespace p2p::http {

class SlotPool {
 public:
  explicit SlotPool(int capacity, std::function<void(int in_use)> observer = {});

  // Waits for a slot. True: the caller holds one and must Release() it. False: closed, the
  // caller holds nothing.
  boost::asio::awaitable<bool> Acquire();
  void Release();
  void SetCapacity(int capacity);
  void Close();

  int capacity() const { return capacity_; }
  int in_use() const { return in_use_; }
  size_t waiting() const { return queue_.size(); }

 private:
  struct Waiter {
    explicit Waiter(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;  // cancelled when the waiter's turn comes (or on Close)
    bool granted = false;
  };
  void Grant();

  int capacity_;
  int in_use_ = 0;
  bool closed_ = false;
  std::deque<std::shared_ptr<Waiter>> queue_;
  std::function<void(int)> observer_;
};

}  // namespace p2p::http
