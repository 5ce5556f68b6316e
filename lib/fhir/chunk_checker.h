// ChunkChecker: NdjsonSplitter + LineChecker for one download body, off the caller's thread once
// the body is large.
//
// Checking every line with simdjson is most of a download's CPU (profiled: stage 1 and
// stage 2 were 37 % of the daemon, all on the network thread, which was the bottleneck). Here the
// caller (pipeline::StoreSink, on the loop thread) hands each received chunk over and a worker
// thread splits and checks it while the caller receives the next one; the caller gets the
// checked lines back, in order and one slot behind, and stores them itself, so the stores are
// only ever used from the caller's thread.
//
// Bodies up to kInlineBytes are checked inline, on the caller's thread, as they arrive (a thread
// per small file would cost more than it saves). Past that, a worker thread starts, if fewer than
// MaxWorkers() checkers of the process have one, else the body goes on inline and tries again at
// its next chunk. With a worker, chunks go into one of two slots of kSlotBytes (three with
// TakeBlocks()): one slot is checked while the next fills, and when a slot is full and queued the
// lines of the one before are delivered, so the slot to fill next is free. The caller can receive
// straight into it (FillBuffer(), no copy); other chunks are copied. Memory: two or three slots
// (kSlotBytes plus kMaxChunk) plus the lines that span chunks (at most max_line_bytes each); no
// allocation per line once warm.
//
// Lines are delivered to `fn` exactly as the inline NdjsonSplitter + LineChecker would: same
// numbers, same problems (kTooLong for an overlong line, with empty text), same ids, same order.
// `fn` runs on the caller's thread; the views it gets are valid only during the call. An error
// from `fn` stops delivery and is returned; the checker is then only fit for destruction.
// Chunks passed to Feed() must be followed by kLinePadding readable bytes (http::BodySink's
// contract), for the inline path.
//
// Threading: Feed/Finish from one thread at a time; the worker touches only the slots it was
// handed (through a mutex and condition variable). The destructor stops and joins the worker.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/result.h"
#include "fhir/ndjson.h"

namespace p2p::fhir {

class ChunkChecker {
 public:
  static constexpr size_t kInlineBytes = 256 * 1024;
  // Received chunks are gathered into a slot until it holds this much, then checked together:
  // one hand-over per 512 KiB instead of one per (up to 64 KiB) network read, whose wake-ups cost
  // more than the checking on a busy 2-core machine.
  static constexpr size_t kSlotBytes = 512 * 1024;
  // A slot has room for this much past kSlotBytes: the largest chunk that is not copied in
  // pieces (Beast reads at most 64 KiB at once) and the least FillBuffer() offers.
  static constexpr size_t kMaxChunk = 64 * 1024;

  struct Line {
    std::string_view text;  // empty for kTooLong
    uint64_t number = 0;
    LineProblem problem = LineProblem::kNone;
    std::string_view id;  // set when problem == kNone
  };
  using LineFn = std::function<Result<void>(const Line& line)>;
  // A run of `count` good lines numbered from `first`, each followed by one "\n", as the bytes
  // of a slot (no copy): returns a token the caller's ReleaseFn must wait on before the bytes
  // change (0: none). See TakeBlocks().
  using BlockFn =
      std::function<Result<uint64_t>(std::string_view lines, uint64_t first, uint64_t count)>;
  using ReleaseFn = std::function<void(uint64_t token)>;

  // `inline_bytes`: bodies up to this size never start the worker; `slot_bytes`: see kSlotBytes
  // (tests use small values of both).
  ChunkChecker(size_t max_line_bytes, std::string expected_type,
               size_t inline_bytes = kInlineBytes, size_t slot_bytes = kSlotBytes);
  ~ChunkChecker();
  ChunkChecker(const ChunkChecker&) = delete;
  ChunkChecker& operator=(const ChunkChecker&) = delete;

  // Once the worker runs, good lines that follow each other in a slot go to `block` as one
  // view of the slot (no copy; their LineFn calls are not made), the others to the LineFn as
  // before, in order. The slot is then lent: before it is filled again (or the checker is
  // destroyed), `release` gets the largest token `block` returned for it. So the caller can
  // write the blocks from where they are, after the fact (as the NDJSON store's
  // writeback thread does). A third slot is then used, so that a lent slot has a whole slot's
  // time to be written before it is needed again. Call before the first Feed().
  void TakeBlocks(BlockFn block, ReleaseFn release);

  // Hands `chunk` over (copied when the worker runs, unless it was read into FillBuffer());
  // delivers the lines checked so far.
  Result<void> Feed(std::string_view chunk, const LineFn& fn);
  // Once the worker runs: the free end of the slot being filled (at least kMaxChunk bytes,
  // followed by kLinePadding bytes of the same buffer). A chunk read there and then passed to
  // Feed() is not copied. Empty while checking inline. Valid until the next Feed().
  std::span<char> FillBuffer();
  // End of body: waits for the worker, then delivers every remaining line, the final one
  // without "\n" included.
  Result<void> Finish(const LineFn& fn);

  bool threaded() const { return worker_.joinable(); }
  // Checkers of this process that may have a worker at once: the core count, at least one.
  // Each costs two slots of memory (three with TakeBlocks): with a worker for each of a job's 4
  // parallel files, the 1 GB run's peak RSS was 1.11-1.14 x the 10 MB run's (benchmark target 4:
  // at most 1.10); capped at the 2 cores, 1.03-1.09.
  static int MaxWorkers();
  static int ActiveWorkers();  // how many have one now

 private:
  // A checked line as the worker records it: offsets, since the slot's arena may grow.
  struct Rec {
    uint64_t number;
    LineProblem problem;
    bool in_arena;  // text in `arena` (a line that spanned chunks), else in `data`
    size_t off, len;
    size_t id_off, id_len;  // in `arena`
  };
  struct Slot {
    std::unique_ptr<char[]> data;  // the chunk, followed by kLinePadding bytes
    size_t cap = 0, size = 0;
    std::vector<Rec> recs;
    std::vector<char> arena;  // ids, and lines that spanned chunks
    enum class State { kFree, kQueued, kChecked } state = State::kFree;
    uint64_t token = 0;  // caller thread: lent to BlockFn until ReleaseFn(token)
  };

  void StartWorker();
  void Release(Slot& slot);  // caller thread: waits until a lent slot may change
  void Reserve(Slot& slot, size_t want);  // caller thread: capacity for `want` bytes
  void Append(Slot& slot, std::string_view chunk);
  void Queue(Slot& slot);  // caller thread: hands a filled slot to the worker
  void Run();
  void CheckSlot(Slot& slot);                          // worker thread
  Result<void> Deliver(Slot& slot, const LineFn& fn);  // caller thread; frees the slot
  // False if `slot` is free; else waits until the worker has checked it.
  bool WaitChecked(Slot& slot);

  std::string type_;
  size_t inline_bytes_;
  size_t slot_bytes_;
  uint64_t bytes_ = 0;
  LineChecker checker_;     // the inline path's, then the worker's
  NdjsonSplitter splitter_;  // likewise
  const LineFn* inline_fn_ = nullptr;  // inline path: where splitter_'s lines go
  Slot* filling_ = nullptr;            // worker path: the slot splitter_'s lines go to
  Result<void> inline_status_ = Ok();

  BlockFn block_fn_;
  ReleaseFn release_fn_;
  Slot slots_[3];
  int nslots_ = 2;  // 3 with TakeBlocks()
  int next_ = 0;    // slot the next chunk goes to
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace p2p::fhir
