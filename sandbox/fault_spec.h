// Fault injection for p2p-sandbox: the --faults SPEC grammar and the deterministic decider.
//
// SPEC := RULE ("," RULE)*            (empty or "none" = no faults)
// RULE := ENDPOINT ":" KIND [ "@" TRIGGER ] ( ":" OPTION )*
//       | ENDPOINT ":" "block=" N "/" WINDOW ":" DURATION [ ":retry-after=" FORM ]
//   ENDPOINT := token | match | export | job | file | any
//   KIND     := 500 | 503 | 429 | 404 | 410 | reset | cut | badjson | fail
//             | delay=DURATION | expire=DURATION            (DURATION: 200ms, 2s, 1.5s, 1m)
//   TRIGGER  := RATE (0..1, e.g. 0.1) | "every" N (the Nth, 2Nth, ... request) ; default: always
//   OPTION   := retry-after=SECONDS | retry-after=FORM       (429 and 503 only)
//   FORM     := date | epoch | epoch-ms | seconds            (block: default seconds)
// e.g. "token:503@0.1,match:429@every5:retry-after=2,file:cut@0.05,token:expire=30s,
//       any:block=20/10s:3s:retry-after=epoch".
// `expire` applies to token (or any) and changes the lifetime of the tokens issued; `fail`
// applies to export/job (or any) and fails the export job. `block` refuses a client's requests
// with 429 for DURATION once it sent more than N within WINDOW (client_blocks.h); it takes no
// trigger. Other kinds apply anywhere.
//
// Determinism: each rule counts the requests it applies to since it was installed; a rate rule
// fires when hash(seed, rule index, count) < rate. No wall clock, so the same request sequence
// always meets the same faults. Only `block` depends on time (passed in by the caller).
//
// Threading: ParseFaultSpec/FormatFaultSpec are pure. FaultInjector is thread-safe (one mutex).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client_blocks.h"

namespace p2p::sandbox {

// The endpoints requests are counted under. kAny is only a rule target; kAdmin/kOther are only
// counted, never faulted.
enum class Endpoint { kToken, kMatch, kExport, kJob, kFile, kAny, kAdmin, kOther };
inline constexpr size_t kEndpointCount = 8;
std::string_view EndpointName(Endpoint endpoint);

enum class FaultKind {
  k500, k503, k429, k404, k410, kReset, kCut, kBadJson, kFail, kDelay, kExpire, kBlock
};
inline constexpr size_t kFaultKindCount = 12;
std::string_view FaultKindName(FaultKind kind);  // "500", "reset", "delay", ...

struct FaultRule {
  Endpoint endpoint = Endpoint::kAny;
  FaultKind kind = FaultKind::k500;
  std::chrono::milliseconds duration{0};  // delay / expire / block
  double rate = 1.0;                      // used when every == 0
  uint32_t every = 0;                     // fire on every Nth applicable request
  int retry_after_seconds = 1;            // 429 / 503: the wait announced
  // 429 / 503: the wait as seconds or as date/epoch/epoch-ms of now + retry_after_seconds;
  // block: the end of the block in that form.
  RetryAfterForm retry_after_form = RetryAfterForm::kSeconds;
  bool has_retry_after = false;           // 503 sends Retry-After only when asked
  uint32_t block_limit = 0;               // block: N requests per window
  std::chrono::milliseconds block_window{0};
};

struct FaultSpec {
  std::vector<FaultRule> rules;
};

// nullopt + *error (e.g. `fault rule 2 "match:42x": unknown kind "42x"`) when malformed.
std::optional<FaultSpec> ParseFaultSpec(std::string_view text, std::string* error);
// Canonical text; ParseFaultSpec(FormatFaultSpec(s)) == s.
std::string FormatFaultSpec(const FaultSpec& spec);

// A request refused because its client is blocked.
struct BlockRefusal {
  FaultRule rule;
  int64_t until_ms = 0;   // end of the block (epoch ms)
  std::string retry_after;  // the Retry-After header value
};

// What one request meets.
struct FaultDecision {
  std::chrono::milliseconds delay{0};              // sum of fired delay rules
  std::optional<FaultRule> response;               // first fired rule of another kind
  std::optional<std::chrono::milliseconds> token_lifetime;  // a fired expire rule
  std::optional<BlockRefusal> block;               // refused by a block; wins over `response`
};

class FaultInjector {
 public:
  FaultInjector(uint64_t seed, FaultSpec spec);

  // Advances the counters of the rules applying to `endpoint` and returns what fired. The
  // caller reports the faults it actually injected with Record(). `client` names who sent the
  // request and `now_ms` is the wall clock (epoch ms), both for block rules; the one-argument
  // form is an anonymous client at the current time.
  FaultDecision Decide(Endpoint endpoint, std::string_view client, int64_t now_ms);
  FaultDecision Decide(Endpoint endpoint);
  void Record(Endpoint endpoint, FaultKind kind);

  // Installs a new spec and restarts every rule's count.
  void Replace(FaultSpec spec);
  FaultSpec Spec() const;

  // Faults injected so far, by endpoint and kind (kBlock: requests refused by a block).
  std::array<std::array<uint64_t, kFaultKindCount>, kEndpointCount> Injected() const;
  // Blocks started so far (all block rules, all clients).
  uint64_t BlocksStarted() const;

 private:
  void Install(FaultSpec spec);  // REQUIRES: mu_ held (or construction)

  mutable std::mutex mu_;
  uint64_t seed_;
  FaultSpec spec_;
  std::vector<uint64_t> counts_;  // per rule
  std::vector<std::optional<ClientBlocks>> blocks_;  // per rule; set for block rules
  uint64_t blocks_started_ = 0;
  std::array<std::array<uint64_t, kFaultKindCount>, kEndpointCount> injected_{};
};

}  // namespace p2p::sandbox
