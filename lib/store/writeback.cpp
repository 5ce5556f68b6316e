#include "store/writeback.h"

#include <fcntl.h>
#include <pthread.h>

#include <utility>

#include "store/posix_file.h"

namespace p2p::store {

WritebackThread::WritebackThread() : thread_([this] { Run(); }) {}

WritebackThread::~WritebackThread() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t WritebackThread::Submit(const Job& job) {
  uint64_t ticket;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(job);
    ticket = ++submitted_;
  }
  cv_.notify_all();
  return ticket;
}

void WritebackThread::WaitFor(uint64_t ticket) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return done_ >= ticket; });
}

void WritebackThread::Run() {
  pthread_setname_np(pthread_self(), "p2p-writeback");  // what top -H and perf show
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return !queue_.empty() || stop_; });
    if (queue_.empty()) return;  // stop_ and nothing left
    Job job = queue_.front();
    queue_.pop_front();
    lock.unlock();
    Result<void> r = PwriteAll(job.fd, job.data, job.size, job.offset,
                               job.what != nullptr ? *job.what : std::string_view("write"));
    if (r) {
      if (job.start_len > 0) {
        (void)::sync_file_range(job.fd, job.start_from, job.start_len, SYNC_FILE_RANGE_WRITE);
      }
      if (job.wait_len > 0) {
        (void)::sync_file_range(
            job.fd, job.wait_from, job.wait_len,
            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      }
    }
    lock.lock();
    const bool failed = !r;
    if (failed && job.status != nullptr) *job.status = std::move(r);
    if (failed && job.failed != nullptr) job.failed->store(true, std::memory_order_release);
    ++done_;
    lock.unlock();
    cv_.notify_all();  // unlocked: the woken waiter need not wait for the mutex
    lock.lock();
  }
}

}  // namespace p2p::store
