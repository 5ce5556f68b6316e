#include "core/job_state.h"

#include <array>

namespace p2p {
namespace {

constexpr std::array<std::string_view, kJobStateCount> kNames = {
    "pending",  "matching", "matched",         "exporting",       "polling", "downloading",
    "complete", "no_match", "consent_refused", "consent_expired", "failed",  "cancelled",
};

bool InRange(JobState s) {
  const int v = static_cast<int>(s);
  return v >= 0 && v < kJobStateCount;
}

}  // namespace

std::string_view JobStateName(JobState s) {
  return InRange(s) ? kNames[static_cast<size_t>(s)] : std::string_view("unknown");
}

std::optional<JobState> ParseJobState(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

bool IsTerminal(JobState s) { return !InRange(s) || static_cast<int>(s) >= 6; }

bool IsAllowedTransition(JobState from, JobState to) {
  // A concurrent-coverage refresh (pipeline/lifecycle.h) exports a complete job again.
  if (from == JobState::kComplete && to == JobState::kExporting) return true;
  if (!InRange(from) || !InRange(to) || IsTerminal(from) || from == to) return false;
  switch (to) {
    case JobState::kFailed:
    case JobState::kCancelled:
    case JobState::kConsentExpired:
      return true;
    case JobState::kNoMatch:
    case JobState::kConsentRefused:
      return from == JobState::kMatching;
    case JobState::kExporting:
      // matched -> exporting is the forward step; polling/downloading -> exporting a re-kick.
      return from == JobState::kMatched || from == JobState::kPolling ||
             from == JobState::kDownloading;
    default:
      break;
  }
  // The remaining forward steps: each state to the next one in the happy path.
  return static_cast<int>(to) == static_cast<int>(from) + 1;
}

}  // namespace p2p
