#include "core/throttle.h"

#include <algorithm>

#include "core/retry_policy.h"

namespace p2p {
namespace {

constexpr int64_t kEpochSecondsMin = 1'000'000'000LL;      // 10 digits: 2001-09-09 as seconds
constexpr int64_t kEpochMillisMin = 1'000'000'000'000LL;   // 13 digits: the same as millis

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Millis Clamp(int64_t ms, Millis max_wait) {
  return Millis(std::clamp<int64_t>(ms, 0, max_wait.count()));
}

}  // namespace

std::optional<Millis> ThrottleDelay(std::string_view value, int64_t now_ms, Millis max_wait) {
  value = Trim(value);
  if (value.empty() || value.size() > 64) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 18) return max_wait;  // beyond any instant: as far as we wait
    int64_t n = 0;
    for (char c : value) n = n * 10 + (c - '0');
    if (n >= kEpochSecondsMin) {
      // An epoch instant, in milliseconds or seconds by its size. Inside the window it is read
      // exactly; outside, it is clamped (a past instant: 0; a far one: max_wait).
      const int64_t at_ms = n >= kEpochMillisMin ? n : n * 1000;
      return Clamp(at_ms - now_ms, max_wait);
    }
    if (n > max_wait.count() / 1000) return max_wait;  // delta-seconds, no overflow
    return Clamp(n * 1000, max_wait);
  }
  // HTTP-date (the parser also reads numbers, handled above).
  const int64_t now_s = now_ms / 1000;
  std::optional<Millis> d = ParseRetryAfter(value, now_s);
  if (!d) return std::nullopt;
  // ParseRetryAfter measured from the whole second; keep the sub-second part of now.
  return Clamp(d->count() - (now_ms - now_s * 1000), max_wait);
}

ThrottleState::ThrottleState(Millis max_wait, Millis base) { Configure(max_wait, base); }

void ThrottleState::Configure(Millis max_wait, Millis base) {
  max_wait_ = std::max(max_wait, Millis(1));
  base_ = std::clamp(base, Millis(1), max_wait_);
}

ThrottleState::Decision ThrottleState::Admit(int64_t now_ms) {
  if (!throttled_) return {Admission::kSend, 0};
  if (probing_) return {Admission::kAwaitProbe, until_ms_};
  if (now_ms < until_ms_) return {Admission::kWait, until_ms_};
  probing_ = true;
  return {Admission::kProbe, until_ms_};
}

bool ThrottleState::OnThrottled(int64_t now_ms, std::optional<Millis> retry_after, bool probe) {
  const bool newly = !throttled_;
  Millis wait;
  if (retry_after) {
    wait = *retry_after;
  } else {
    const int shift = std::min(in_a_row_, 30);
    wait = Millis(std::min<int64_t>(max_wait_.count(), base_.count() << shift));
  }
  // Never sooner than a second (a stale epoch or "0" must not turn into a tight loop).
  wait = std::clamp(wait, std::min(Millis(1000), max_wait_), max_wait_);
  ++in_a_row_;
  if (newly) {
    throttled_ = true;
    since_ms_ = now_ms;
    until_ms_ = 0;
  }
  until_ms_ = std::max(until_ms_, now_ms + wait.count());
  if (probe) probing_ = false;
  return newly;
}

bool ThrottleState::OnOther(bool probe) {
  if (!throttled_) {
    in_a_row_ = 0;
    return false;
  }
  if (!probe) return false;
  throttled_ = false;
  probing_ = false;
  in_a_row_ = 0;
  return true;
}

void ThrottleState::ProbeAbandoned() { probing_ = false; }

}  // namespace p2p
