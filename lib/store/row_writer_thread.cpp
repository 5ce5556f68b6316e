#include "store/row_writer_thread.h"

#include <pthread.h>

#include <algorithm>

namespace p2p::store {

RowWriterThread::RowWriterThread(ApplyFn apply, size_t batch_bytes, size_t batch_rows)
    : apply_(std::move(apply)),
      batch_bytes_(std::max<size_t>(batch_bytes, 1)),
      batch_rows_(std::max<size_t>(batch_rows, 1)),
      thread_([this] { Run(); }) {}

RowWriterThread::~RowWriterThread() {
  Drain();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool RowWriterThread::HasError(const void* owner) const {
  return std::any_of(errors_.begin(), errors_.end(),
                     [owner](const auto& e) { return e.first == owner; });
}

Result<void> RowWriterThread::Add(const Row& row) {
  if (error_count_.load(std::memory_order_acquire) > 0) {
    std::unique_lock lock(mu_);
    if (HasError(row.owner)) {
      lock.unlock();
      Drain();  // the owner's rows still queued are skipped: let them go before reporting
      if (auto e = TakeError(row.owner)) return std::move(*e);
    }
  }
  Batch& b = *filling_;
  Record r{row.owner, static_cast<uint32_t>(row.member_key.size()),
           static_cast<uint32_t>(row.id.size()), b.bytes.size(), row.line.size()};
  b.bytes.append(row.member_key).append(row.id).append(row.line);
  b.rows.push_back(r);
  if (b.bytes.size() >= batch_bytes_ || b.rows.size() >= batch_rows_) Submit();
  return Ok();
}

void RowWriterThread::Submit() {
  std::unique_lock lock(mu_);
  if (pending_ != nullptr) {
    ++waits_;
    cv_.wait(lock, [this] { return pending_ == nullptr; });
  }
  // The thread is done with the other batch: it becomes the one being filled.
  pending_ = filling_;
  filling_ = filling_ == &a_ ? &b_ : &a_;
  ++batches_;
  lock.unlock();
  cv_.notify_all();
}

void RowWriterThread::Drain() {
  if (!filling_->rows.empty()) Submit();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return pending_ == nullptr; });
}

std::optional<Error> RowWriterThread::TakeError(const void* owner) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(errors_.begin(), errors_.end(),
                         [owner](const auto& e) { return e.first == owner; });
  if (it == errors_.end()) return std::nullopt;
  Error e = std::move(it->second);
  errors_.erase(it);
  error_count_.store(errors_.size(), std::memory_order_release);
  return e;
}

void RowWriterThread::ApplyBatch(Batch& b) {
  for (const Record& r : b.rows) {
    if (error_count_.load(std::memory_order_acquire) > 0) {
      std::lock_guard lock(mu_);
      if (HasError(r.owner)) continue;
    }
    const char* p = b.bytes.data() + r.offset;
    Row row{r.owner, std::string_view(p, r.key_len), std::string_view(p + r.key_len, r.id_len),
            std::string_view(p + r.key_len + r.id_len, r.line_len)};
    Result<void> applied = apply_(row);
    if (!applied) {
      std::lock_guard lock(mu_);
      errors_.emplace_back(r.owner, std::move(applied).error());
      error_count_.store(errors_.size(), std::memory_order_release);
    }
  }
  b.bytes.clear();  // keeps its capacity: no allocation once warmed up
  b.rows.clear();
}

void RowWriterThread::Run() {
  pthread_setname_np(pthread_self(), "p2p-rowwriter");  // what top -H and perf show
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return pending_ != nullptr || stop_; });
    if (pending_ == nullptr) return;  // stop_, nothing left
    Batch* b = pending_;
    lock.unlock();
    ApplyBatch(*b);
    lock.lock();
    pending_ = nullptr;
    cv_.notify_all();
  }
}

}  // namespace p2p::store
