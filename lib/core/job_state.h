// The per-member job state machine. Values are stored in SQLite: never renumber.
//   pending -> matching -> matched -> exporting -> polling -> downloading -> complete
//   terminal: no_match | consent_refused | consent_expired | failed | cancelled
#pragma once

#include <optional>
#include <string_view>

namespace p2p {

enum class JobState : int {
  kPending = 0,
  kMatching = 1,
  kMatched = 2,
  kExporting = 3,
  kPolling = 4,
  kDownloading = 5,
  kComplete = 6,
  kNoMatch = 7,
  kConsentRefused = 8,
  kConsentExpired = 9,
  kFailed = 10,
  kCancelled = 11,
};

inline constexpr int kJobStateCount = 12;

std::string_view JobStateName(JobState s);          // "pending", "no_match", ...
std::optional<JobState> ParseJobState(std::string_view name);
bool IsTerminal(JobState s);
// True when `to` may follow `from` (forward steps; any non-terminal -> failed/cancelled/
// consent_expired; matching -> no_match/consent_refused; polling/downloading -> exporting for a
// re-kick; complete -> exporting for a concurrent-coverage refresh; any non-terminal -> itself
// is not a transition).
bool IsAllowedTransition(JobState from, JobState to);

}  // namespace p2p
