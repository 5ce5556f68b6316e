#include "client_blocks.h"

#include "text_util.h"

namespace p2p::sandbox {
namespace {

// Clients remembered at most; beyond it the idle ones are forgotten.
constexpr size_t kMaxClients = 4096;

int64_t CeilDiv1000(int64_t ms) { return ms >= 0 ? (ms + 999) / 1000 : -((-ms) / 1000); }

}  // namespace

std::string_view RetryAfterFormName(RetryAfterForm form) {
  switch (form) {
    case RetryAfterForm::kDate: return "date";
    case RetryAfterForm::kEpoch: return "epoch";
    case RetryAfterForm::kEpochMs: return "epoch-ms";
    case RetryAfterForm::kSeconds: break;
  }
  return "seconds";
}

std::string FormatRetryAfter(RetryAfterForm form, int64_t now_ms, int64_t until_ms) {
  switch (form) {
    case RetryAfterForm::kDate: return FormatHttpDate(CeilDiv1000(until_ms));
    case RetryAfterForm::kEpoch: return std::to_string(CeilDiv1000(until_ms));
    case RetryAfterForm::kEpochMs: return std::to_string(until_ms);
    case RetryAfterForm::kSeconds: break;
  }
  const int64_t left = CeilDiv1000(until_ms - now_ms);
  return std::to_string(left < 1 ? 1 : left);
}

ClientBlocks::Verdict ClientBlocks::Admit(std::string_view client, int64_t now_ms) {
  if (clients_.size() >= kMaxClients) ForgetIdle(now_ms);
  State& s = clients_[std::string(client)];
  if (s.blocked_until != 0) {
    if (now_ms < s.blocked_until) return Verdict{true, false, s.blocked_until};
    s.blocked_until = 0;  // the block is over: the window restarts empty
    s.recent.clear();
  }
  const int64_t window = params_.window.count();
  while (!s.recent.empty() && s.recent.front() <= now_ms - window) s.recent.pop_front();
  if (s.recent.size() >= params_.limit) {
    s.recent.clear();
    s.blocked_until = now_ms + params_.duration.count();
    return Verdict{true, true, s.blocked_until};
  }
  s.recent.push_back(now_ms);
  return Verdict{};
}

void ClientBlocks::ForgetIdle(int64_t now_ms) {
  const int64_t window = params_.window.count();
  for (auto it = clients_.begin(); it != clients_.end();) {
    const State& s = it->second;
    const bool idle = s.blocked_until == 0
                          ? s.recent.empty() || s.recent.back() <= now_ms - window
                          : s.blocked_until <= now_ms;
    it = idle ? clients_.erase(it) : std::next(it);
  }
}

}  // namespace p2p::sandbox
