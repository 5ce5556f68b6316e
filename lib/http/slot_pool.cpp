#include "http/slot_pool.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace p2p::http {

namespace asio = boost::asio;

SlotPool::SlotPool(int capacity, std::function<void(int)> observer)
    : capacity_(capacity), observer_(std::move(observer)) {}

asio::awaitable<bool> SlotPool::Acquire() {
  if (closed_) co_return false;
  if (queue_.empty() && in_use_ < capacity_) {
    ++in_use_;
    if (observer_) observer_(in_use_);
    co_return true;
  }
  // The shared_ptr keeps the waiter alive for whichever of the queue and this frame ends last.
  auto w = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  w->timer.expires_at(asio::steady_timer::time_point::max());
  queue_.push_back(w);
  boost::system::error_code ec;
  co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return w->granted;
}

void SlotPool::Release() {
  --in_use_;
  Grant();
}

void SlotPool::SetCapacity(int capacity) {
  capacity_ = capacity;
  Grant();
}

void SlotPool::Close() {
  closed_ = true;
  for (auto& w : queue_) w->timer.cancel();
  queue_.clear();
}

void SlotPool::Grant() {
  while (!queue_.empty() && in_use_ < capacity_) {
    std::shared_ptr<Waiter> w = std::move(queue_.front());
    queue_.pop_front();
    w->granted = true;
    ++in_use_;
    w->timer.cancel();
  }
  if (observer_) observer_(in_use_);
}

}  // namespace p2p::http
