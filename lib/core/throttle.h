// Throttling by one prior payer, decided without I/O (the caller passes the time, unix ms).
//
// Real Bulk Data servers throttle in blocks: past N requests a minute, every request gets 429 for
// minutes, with a Retry-After as delta-seconds, an HTTP-date or (against RFC 9110) an epoch
// instant in seconds or milliseconds. Such answers are not failures: the payer as a whole becomes
// *throttled* until it is due again; its jobs wait (holding no slot, counting no attempt) and,
// when the wait ends, one probe request goes out; the others follow only once it was answered
// with anything but another throttling answer.
//
// ThrottleDelay reads a Retry-After for this purpose; ThrottleState is the payer's gate.
// Threading: none (owned by one PayerClient on the io_context thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace p2p {

using Millis = std::chrono::milliseconds;

// The wait a throttling answer asks for, from its Retry-After `value` at `now_ms` (unix ms):
// delta-seconds; an HTTP-date; or a number of 10 digits or more read as an epoch instant in
// seconds (below 10^12) or milliseconds, but only when that instant lies between now and
// now + `max_wait` (a plausible window); any other value is clamped into [0, max_wait] (a past
// instant gives 0, a far one max_wait). nullopt when the value is empty or unreadable.
std::optional<Millis> ThrottleDelay(std::string_view value, int64_t now_ms, Millis max_wait);

class ThrottleState {
 public:
  enum class Admission {
    kSend,        // not throttled: send
    kProbe,       // the wait is over and this request is the one probe: send, then report
    kWait,        // throttled until `until_ms`: do not send
    kAwaitProbe,  // a probe is out: wait for its answer, then ask again
  };
  struct Decision {
    Admission admission = Admission::kSend;
    int64_t until_ms = 0;  // kWait: when the payer is due again
  };

  // `max_wait`: limits.max_throttle_wait, the longest single wait. `base`: the first wait when a
  // throttling answer has no (readable) Retry-After; it doubles with each further one in a row.
  ThrottleState(Millis max_wait, Millis base);
  void Configure(Millis max_wait, Millis base);

  Decision Admit(int64_t now_ms);
  // A throttling answer at `now_ms`, to the probe when `probe`. `retry_after`: ThrottleDelay of
  // its header, if any. The payer stays throttled until the later of its current due time and
  // now + the wait (at least min(1 s, max_wait), at most max_wait). Returns true when the payer
  // was not throttled before (worth one log line).
  bool OnThrottled(int64_t now_ms, std::optional<Millis> retry_after, bool probe);
  // Any other outcome of a request (an answer, or a failure to get one). Returns true when this
  // was the probe and ended the throttled state (worth one log line). Answers to requests sent
  // before the block began do not end it.
  bool OnOther(bool probe);
  // The probe was abandoned before it had an outcome (shutdown, a local error): the next request
  // admitted becomes the probe.
  void ProbeAbandoned();

  bool throttled() const { return throttled_; }
  bool probing() const { return probing_; }
  int64_t until_ms() const { return throttled_ ? until_ms_ : 0; }
  int64_t since_ms() const { return throttled_ ? since_ms_ : 0; }
  Millis max_wait() const { return max_wait_; }

 private:
  Millis max_wait_;
  Millis base_;
  bool throttled_ = false;
  bool probing_ = false;
  int64_t until_ms_ = 0;
  int64_t since_ms_ = 0;
  int in_a_row_ = 0;  // throttling answers since the last other outcome
};

}  // namespace p2p
