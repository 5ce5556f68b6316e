// WritebackThread: the NDJSON store's file writes, off the caller's (network) thread.
//
// A writer hands over a filled buffer, or a block of lines lent by its caller
// (FileWriter::PutBlock), as a Job (fd, offset, bytes) and goes on filling another one; the
// thread pwrite()s the bytes and then drives the disk writeback of the file's range so that
// dirty pages never pile up until the commit: it starts writeback of what was just written
// (sync_file_range WRITE) and waits for older ranges to reach the disk (WAIT_BEFORE | WRITE |
// WAIT_AFTER). The commit's fdatasync then has only the last few MiB left. sync_file_range gives
// no durability by itself (no metadata, no disk cache flush): the commit's fdatasync still does.
//
// Ownership: the caller keeps each job's buffer, `what`, `status` and `failed` alive and
// unchanged until WaitFor(job's ticket) returns. Jobs run in submission order, one at a time.
// Errors: a failed pwrite sets *status (ErrnoError: "<what>: <strerror>") and then *failed;
// sync_file_range failures are ignored (they only lose the head start).
// Threading: Submit/WaitFor may be called from any thread (mutex + condition variable); the
// destructor waits for every job, then joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"

namespace p2p::store {

class WritebackThread {
 public:
  struct Job {
    int fd = -1;
    int64_t offset = 0;
    const char* data = nullptr;
    size_t size = 0;
    // After the write: start writeback of [start_from, start_from + start_len) and wait for
    // [wait_from, wait_from + wait_len) to be on disk (lengths 0: nothing).
    int64_t start_from = 0, start_len = 0;
    int64_t wait_from = 0, wait_len = 0;
    const std::string* what = nullptr;  // error context, e.g. "write <path>"
    Result<void>* status = nullptr;     // set on a write error (read it after WaitFor)
    // Also set on a write error, after *status: lets the caller notice a failure without
    // waiting for the job (then WaitFor, and read *status).
    std::atomic<bool>* failed = nullptr;
  };

  WritebackThread();
  ~WritebackThread();
  WritebackThread(const WritebackThread&) = delete;
  WritebackThread& operator=(const WritebackThread&) = delete;

  // Queues `job`; returns its ticket (increasing from 1).
  uint64_t Submit(const Job& job);
  // Waits until the job with `ticket` (and every earlier one) has run. 0: returns at once.
  void WaitFor(uint64_t ticket);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // guarded by mu_; a few jobs per writer at most (a buffer, a block)
  uint64_t submitted_ = 0, done_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: started once everything above is constructed
};

}  // namespace p2p::store
