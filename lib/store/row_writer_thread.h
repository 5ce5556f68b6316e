// RowWriterThread: moves a store's row writes off the caller's (network) thread, in batches.
//
// The caller adds rows (owner tag, member_key override, id, JSON line); they are copied into the
// batch being filled (one byte arena plus one fixed-size record per row: no allocation per row
// once the buffers have grown to their working size). A full batch (`batch_bytes` or
// `batch_rows`) is handed to the thread, which calls `apply` for each row in order while the
// caller fills the other batch. Memory is bounded: two batches; when the thread is still
// applying the previous batch, handing over the next one waits (backpressure on the network).
//
// Errors: `apply` returning an error records it against the row's owner; that owner's later rows
// are skipped, and the error comes back from the owner's next Add() (after a Drain) or from
// TakeError(). Rows of other owners go on.
//
// Threading: every method is for one caller thread at a time (the store's "one thread at a time"
// rule); `apply` runs on the writer thread. Drain() returns once every row added so far has been
// applied; it is the synchronisation point: after it, the caller may use whatever `apply` uses
// (e.g. the SQLite connection) until its next Add(). The destructor drains, then joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.h"

namespace p2p::store {

class RowWriterThread {
 public:
  struct Row {
    const void* owner;          // whose row (errors are kept per owner)
    std::string_view member_key;  // empty: the owner's own
    std::string_view id;
    std::string_view line;
  };
  using ApplyFn = std::function<Result<void>(const Row&)>;

  RowWriterThread(ApplyFn apply, size_t batch_bytes, size_t batch_rows);
  ~RowWriterThread();
  RowWriterThread(const RowWriterThread&) = delete;
  RowWriterThread& operator=(const RowWriterThread&) = delete;

  // Queues one row (copied). Returns the owner's recorded error instead if an earlier row of it
  // failed (the row is then not queued). May wait for the thread (a full batch, the other one
  // still being applied).
  Result<void> Add(const Row& row);
  // Hands over what is queued and waits until every row has been applied.
  void Drain();
  // The error recorded against `owner`, if any, and forgets it. REQUIRES: after Drain().
  std::optional<Error> TakeError(const void* owner);

  // Counters for tests and benchmarks (caller thread): batches handed over, and how many of
  // those handovers had to wait for the thread.
  uint64_t batches() const { return batches_; }
  uint64_t waits() const { return waits_; }

 private:
  struct Record {
    const void* owner;
    uint32_t key_len, id_len;
    uint64_t offset;  // in `bytes`: member_key, id, line, back to back
    uint64_t line_len;
  };
  struct Batch {
    std::string bytes;
    std::vector<Record> rows;
  };

  void Submit();  // hands `filling_` over (waits while the other batch is in flight)
  void Run();
  void ApplyBatch(Batch& b);
  bool HasError(const void* owner) const;  // REQUIRES: mu_ held, or on the thread

  ApplyFn apply_;
  const size_t batch_bytes_, batch_rows_;
  Batch a_, b_;
  Batch* filling_ = &a_;  // caller thread only

  std::mutex mu_;
  std::condition_variable cv_;
  Batch* pending_ = nullptr;  // handed over, not yet applied (guarded by mu_)
  bool stop_ = false;         // guarded by mu_
  // Owners whose rows failed (written by the thread under mu_; read by the caller under mu_).
  std::vector<std::pair<const void*, Error>> errors_;
  std::atomic<size_t> error_count_{0};  // errors_.size(), for a lock-free check in Add()

  uint64_t batches_ = 0, waits_ = 0;
  std::thread thread_;  // last: started once everything above is constructed
};

}  // namespace p2p::store
