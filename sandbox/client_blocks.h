// The `block=N/WINDOW:DURATION` fault of p2p-sandbox: per-client sliding windows and blocks, as
// a throttling Bulk Data server keeps them, and the Retry-After text of a refusal.
//
// A client may send N requests within any WINDOW (a sliding window: the requests of the last
// WINDOW, ending at the current one). The N+1st is refused and starts a block: every request of
// that client is refused until DURATION after it. The first request after the block is counted
// in a fresh, empty window.
//
// Time is passed in (epoch milliseconds), never read here, so tests drive it. Not thread-safe:
// the FaultInjector (fault_spec.h) calls it under its own mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace p2p::sandbox {

// How a refusal's Retry-After is written (numbers in the fault SPEC's `retry-after=` option).
enum class RetryAfterForm { kSeconds, kDate, kEpoch, kEpochMs };
std::string_view RetryAfterFormName(RetryAfterForm form);  // "seconds", "date", "epoch", "epoch-ms"

// The Retry-After value for a wait until `until_ms`, seen at `now_ms`: delta-seconds (rounded
// up, at least 1), an IMF-fixdate, epoch seconds (rounded up) or epoch milliseconds.
std::string FormatRetryAfter(RetryAfterForm form, int64_t now_ms, int64_t until_ms);

struct BlockParams {
  uint32_t limit = 1;                     // N: requests allowed per window
  std::chrono::milliseconds window{1000};
  std::chrono::milliseconds duration{1000};
};

class ClientBlocks {
 public:
  explicit ClientBlocks(BlockParams params) : params_(params) {}

  struct Verdict {
    bool refused = false;
    bool started = false;   // this request started the block
    int64_t until_ms = 0;   // end of the block when refused
  };
  // Counts one request of `client` at `now_ms` and says whether it is refused.
  Verdict Admit(std::string_view client, int64_t now_ms);

 private:
  struct State {
    std::deque<int64_t> recent;  // times of the admitted requests in the window
    int64_t blocked_until = 0;   // 0: not blocked
  };
  void ForgetIdle(int64_t now_ms);

  BlockParams params_;
  std::unordered_map<std::string, State> clients_;
};

}  // namespace p2p::sandbox
