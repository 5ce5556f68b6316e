#include "fhir/chunk_checker.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

namespace p2p::fhir {

namespace {

std::atomic<int> g_workers{0};

// Takes one of MaxWorkers() permits; false if none is left.
bool TakeWorkerPermit() {
  int n = g_workers.load();
  while (n < ChunkChecker::MaxWorkers()) {
    if (g_workers.compare_exchange_weak(n, n + 1)) return true;
  }
  return false;
}

}  // namespace

int ChunkChecker::MaxWorkers() {
  static const int n = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return n;
}

int ChunkChecker::ActiveWorkers() { return g_workers.load(); }

ChunkChecker::ChunkChecker(size_t max_line_bytes, std::string expected_type, size_t inline_bytes,
                           size_t slot_bytes)
    : type_(std::move(expected_type)),
      inline_bytes_(inline_bytes),
      slot_bytes_(std::max<size_t>(slot_bytes, 1)),
      splitter_(
          max_line_bytes,
          [this](std::string_view text, uint64_t number) -> Result<void> {
            if (filling_ != nullptr) {  // worker thread: record, the caller delivers
              Slot& s = *filling_;
              const CheckedLine c = checker_.CheckPadded(text, type_);
              Rec rec{number, c.problem, false, 0, text.size(), 0, 0};
              if (text.data() >= s.data.get() && text.data() < s.data.get() + s.size) {
                rec.off = static_cast<size_t>(text.data() - s.data.get());
              } else {  // a line that spanned chunks: in the splitter's buffer until its next line
                rec.in_arena = true;
                rec.off = s.arena.size();
                s.arena.insert(s.arena.end(), text.begin(), text.end());
              }
              rec.id_off = s.arena.size();
              rec.id_len = c.id.size();
              s.arena.insert(s.arena.end(), c.id.begin(), c.id.end());
              s.recs.push_back(rec);
              return Ok();
            }
            if (!inline_status_) return inline_status_;
            const CheckedLine c = checker_.CheckPadded(text, type_);
            return (*inline_fn_)(Line{text, number, c.problem, c.id});
          },
          [this](uint64_t number) {
            if (filling_ != nullptr) {
              filling_->recs.push_back(Rec{number, LineProblem::kTooLong, false, 0, 0, 0, 0});
              return;
            }
            if (!inline_status_) return;
            Line line;
            line.number = number;
            line.problem = LineProblem::kTooLong;
            inline_status_ = (*inline_fn_)(line);
          }) {}

ChunkChecker::~ChunkChecker() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  g_workers.fetch_sub(1);
  for (Slot& s : slots_) Release(s);  // no block of ours is still being written
}

Result<void> ChunkChecker::Feed(std::string_view chunk, const LineFn& fn) {
  if (!worker_.joinable() &&
      (bytes_ + chunk.size() <= inline_bytes_ || !TakeWorkerPermit())) {
    bytes_ += chunk.size();
    inline_fn_ = &fn;
    Result<void> r = splitter_.Feed(chunk);
    inline_fn_ = nullptr;
    if (!inline_status_) return inline_status_;
    return r;
  }
  bytes_ += chunk.size();
  if (!worker_.joinable()) StartWorker();
  Slot& s = slots_[next_];
  Release(s);
  // s is being filled (by this thread only) until it holds kSlotBytes.
  if (chunk.data() == s.data.get() + s.size && s.size + chunk.size() <= s.cap) {
    s.size += chunk.size();  // read into FillBuffer(): already in place
  } else {
    Append(s, chunk);
  }
  if (s.size >= slot_bytes_) {
    Queue(s);
    // Deliver the slot queued before this one now: then at most one slot is outstanding and the
    // next one to fill is free (or lent, see Release); the worker has had a whole slot's time to
    // check it.
    Slot& older = slots_[(next_ + nslots_ - 1) % nslots_];
    next_ = (next_ + 1) % nslots_;
    if (WaitChecked(older)) return Deliver(older, fn);
  }
  return Ok();
}

void ChunkChecker::TakeBlocks(BlockFn block, ReleaseFn release) {
  block_fn_ = std::move(block);
  release_fn_ = std::move(release);
  nslots_ = block_fn_ ? 3 : 2;
}

void ChunkChecker::Release(Slot& s) {
  if (s.token == 0) return;
  release_fn_(s.token);
  s.token = 0;
}

std::span<char> ChunkChecker::FillBuffer() {
  if (!worker_.joinable()) return {};
  Slot& s = slots_[next_];
  {
    std::lock_guard lock(mu_);
    if (s.state != Slot::State::kFree) return {};  // not after Feed() returned Ok
  }
  Release(s);
  Reserve(s, s.size + kMaxChunk);
  return {s.data.get() + s.size, s.cap - s.size};
}

void ChunkChecker::Reserve(Slot& s, size_t want) {
  if (s.cap >= want) return;
  const size_t cap = std::max({2 * s.cap, want, slot_bytes_ + kMaxChunk});
  auto data = std::make_unique_for_overwrite<char[]>(cap + kLinePadding);
  if (s.size > 0) std::memcpy(data.get(), s.data.get(), s.size);
  s.data = std::move(data);
  s.cap = cap;
}

void ChunkChecker::Append(Slot& s, std::string_view chunk) {
  Reserve(s, s.size + chunk.size());
  std::memcpy(s.data.get() + s.size, chunk.data(), chunk.size());
  s.size += chunk.size();
}

void ChunkChecker::Queue(Slot& slot) {
  std::memset(slot.data.get() + slot.size, 0, kLinePadding);
  slot.recs.clear();
  slot.arena.clear();
  {
    std::lock_guard lock(mu_);
    slot.state = Slot::State::kQueued;
  }
  cv_.notify_all();
}

Result<void> ChunkChecker::Finish(const LineFn& fn) {
  if (worker_.joinable()) {
    // After Feed(), only the slot queued last can be outstanding; the one being filled holds
    // the newest bytes.
    Slot& queued = slots_[(next_ + nslots_ - 1) % nslots_];
    Slot& filling = slots_[next_];
    if (WaitChecked(queued)) {
      if (auto r = Deliver(queued, fn); !r) return r;
    }
    if (filling.size > 0) {
      Queue(filling);
      WaitChecked(filling);
      if (auto r = Deliver(filling, fn); !r) return r;
    }
    // Every slot delivered: the worker is idle and the splitter and checker are ours again.
  }
  inline_fn_ = &fn;
  Result<void> r = splitter_.Finish();
  inline_fn_ = nullptr;
  if (!inline_status_) return inline_status_;
  return r;
}

void ChunkChecker::StartWorker() {
  worker_ = std::thread([this] { Run(); });
}

void ChunkChecker::Run() {
  pthread_setname_np(pthread_self(), "p2p-check");  // what top -H and perf show
  int w = 0;  // slots are queued in turn from 0, so checked in the same order
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || slots_[w].state == Slot::State::kQueued; });
    if (stop_) return;
    Slot& s = slots_[w];
    lock.unlock();
    CheckSlot(s);
    lock.lock();
    s.state = Slot::State::kChecked;
    lock.unlock();
    cv_.notify_all();  // unlocked: the woken caller need not wait for the mutex
    w = (w + 1) % nslots_;
    lock.lock();
  }
}

void ChunkChecker::CheckSlot(Slot& slot) {
  filling_ = &slot;
  (void)splitter_.Feed(std::string_view(slot.data.get(), slot.size));  // never fails here
  filling_ = nullptr;
}

bool ChunkChecker::WaitChecked(Slot& slot) {
  std::unique_lock lock(mu_);
  if (slot.state == Slot::State::kFree) return false;
  cv_.wait(lock, [&] { return slot.state == Slot::State::kChecked; });
  return true;
}

Result<void> ChunkChecker::Deliver(Slot& slot, const LineFn& fn) {
  Result<void> r = Ok();
  const char* data = slot.data.get();
  // With block_fn_: a run of good lines that follow each other with one "\n" each goes as one
  // block of the slot's own bytes.
  size_t run_start = 0, run_end = 0;
  uint64_t run_first = 0, run_count = 0;
  const auto flush_run = [&]() -> Result<void> {
    if (run_count == 0) return Ok();
    const uint64_t count = run_count;
    run_count = 0;
    auto t = block_fn_(std::string_view(data + run_start, run_end - run_start), run_first, count);
    if (!t) return std::move(t).error();
    slot.token = std::max(slot.token, *t);
    return Ok();
  };
  for (const Rec& rec : slot.recs) {
    if (block_fn_ && rec.problem == LineProblem::kNone && !rec.in_arena &&
        data[rec.off + rec.len] == '\n') {
      if (run_count > 0 && rec.off == run_end) {
        run_end = rec.off + rec.len + 1;
        ++run_count;
        continue;
      }
      if (r = flush_run(); !r) break;
      run_start = rec.off;
      run_end = rec.off + rec.len + 1;
      run_first = rec.number;
      run_count = 1;
      continue;
    }
    if (r = flush_run(); !r) break;
    Line line;
    line.number = rec.number;
    line.problem = rec.problem;
    const char* base = rec.in_arena ? slot.arena.data() : data;
    line.text = std::string_view(base + rec.off, rec.len);
    line.id = std::string_view(slot.arena.data() + rec.id_off, rec.id_len);
    r = fn(line);
    if (!r) break;
  }
  if (r) r = flush_run();
  slot.size = 0;
  std::lock_guard lock(mu_);
  slot.state = Slot::State::kFree;
  return r;
}

}  // namespace p2p::fhir
