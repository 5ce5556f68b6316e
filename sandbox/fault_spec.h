// Fault injection for p2p-sandbox: the --faults SPEC grammar and the deterministic decider.
//
// SPEC := RULE ("," RULE)*            (empty or "none" = no faults)
// RULE := ENDPOINT ":" KIND [ "@" TRIGGER ] ( ":" OPTION )*
//   ENDPOINT := token | match | export | job | file | any
//   KIND     := 500 | 503 | 429 | 404 | 410 | reset | cut | badjson | fail
//             | delay=DURATION | expire=DURATION            (DURATION: 200ms, 2s, 1.5s, 1m)
//   TRIGGER  := RATE (0..1, e.g. 0.1) | "every" N (the Nth, 2Nth, ... request) ; default: always
//   OPTION   := retry-after=SECONDS | retry-after=date       (429 and 503 only)
// e.g. "token:503@0.1,match:429@every5:retry-after=2,file:cut@0.05,token:expire=30s".
// `expire` applies to token (or any) and changes the lifetime of the tokens issued; `fail`
// applies to export/job (or any) and fails the export job. Other kinds apply anywhere.
//
// Determinism: each rule counts the requests it applies to since it was installed; a rate rule
// fires when hash(seed, rule index, count) < rate. No wall clock, so the same request sequence
// always meets the same faults.
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

namespace p2p::sandbox {

// The endpoints requests are counted under. kAny is only a rule target; kAdmin/kOther are only
// counted, never faulted.
enum class Endpoint { kToken, kMatch, kExport, kJob, kFile, kAny, kAdmin, kOther };
inline constexpr size_t kEndpointCount = 8;
std::string_view EndpointName(Endpoint endpoint);

enum class FaultKind { k500, k503, k429, k404, k410, kReset, kCut, kBadJson, kFail, kDelay, kExpire };
inline constexpr size_t kFaultKindCount = 11;
std::string_view FaultKindName(FaultKind kind);  // "500", "reset", "delay", ...

struct FaultRule {
  Endpoint endpoint = Endpoint::kAny;
  FaultKind kind = FaultKind::k500;
  std::chrono::milliseconds duration{0};  // delay / expire
  double rate = 1.0;                      // used when every == 0
  uint32_t every = 0;                     // fire on every Nth applicable request
  int retry_after_seconds = 1;            // 429 / 503
  bool retry_after_date = false;          // Retry-After as an HTTP-date instead of seconds
  bool has_retry_after = false;           // 503 sends Retry-After only when asked
};

struct FaultSpec {
  std::vector<FaultRule> rules;
};

// nullopt + *error (e.g. `fault rule 2 "match:42x": unknown kind "42x"`) when malformed.
std::optional<FaultSpec> ParseFaultSpec(std::string_view text, std::string* error);
// Canonical text; ParseFaultSpec(FormatFaultSpec(s)) == s.
std::string FormatFaultSpec(const FaultSpec& spec);

// What one request meets.
struct FaultDecision {
  std::chrono::milliseconds delay{0};              // sum of fired delay rules
  std::optional<FaultRule> response;               // first fired rule of another kind
  std::optional<std::chrono::milliseconds> token_lifetime;  // a fired expire rule
};

class FaultInjector {
 public:
  FaultInjector(uint64_t seed, FaultSpec spec);

  // Advances the counters of the rules applying to `endpoint` and returns what fired. The
  // caller reports the faults it actually injected with Record().
  FaultDecision Decide(Endpoint endpoint);
  void Record(Endpoint endpoint, FaultKind kind);

  // Installs a new spec and restarts every rule's count.
  void Replace(FaultSpec spec);
  FaultSpec Spec() const;

  // Faults injected so far, by endpoint and kind.
  std::array<std::array<uint64_t, kFaultKindCount>, kEndpointCount> Injected() const;

 private:
  mutable std::mutex mu_;
  uint64_t seed_;
  FaultSpec spec_;
  std::vector<uint64_t> counts_;  // per rule
  std::array<std::array<uint64_t, kFaultKindCount>, kEndpointCount> injected_{};
};

}  // namespace p2p::sandbox
