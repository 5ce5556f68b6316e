#include "core/job_state.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace p2p {
namespace {

using S = JobState;

TEST(JobState, NamesAreTheStoredContract) {
  const std::pair<S, std::string_view> cases[] = {
      {S::kPending, "pending"},
      {S::kMatching, "matching"},
      {S::kMatched, "matched"},
      {S::kExporting, "exporting"},
      {S::kPolling, "polling"},
      {S::kDownloading, "downloading"},
      {S::kComplete, "complete"},
      {S::kNoMatch, "no_match"},
      {S::kConsentRefused, "consent_refused"},
      {S::kConsentExpired, "consent_expired"},
      {S::kFailed, "failed"},
      {S::kCancelled, "cancelled"},
  };
  for (const auto& [state, name] : cases) {
    EXPECT_EQ(JobStateName(state), name);
    EXPECT_EQ(ParseJobState(name), state) << name;
  }
}

TEST(JobState, NumbersNeverChange) {
  EXPECT_EQ(static_cast<int>(S::kPending), 0);
  EXPECT_EQ(static_cast<int>(S::kComplete), 6);
  EXPECT_EQ(static_cast<int>(S::kCancelled), 11);
  EXPECT_EQ(kJobStateCount, 12);
}

TEST(JobState, ParseRejectsUnknownNames) {
  EXPECT_EQ(ParseJobState(""), std::nullopt);
  EXPECT_EQ(ParseJobState("Pending"), std::nullopt);
  EXPECT_EQ(ParseJobState("done"), std::nullopt);
  EXPECT_EQ(JobStateName(static_cast<S>(99)), "unknown");
}

TEST(JobState, TerminalStates) {
  for (int i = 0; i < kJobStateCount; ++i) {
    const auto s = static_cast<S>(i);
    EXPECT_EQ(IsTerminal(s), i >= 6) << JobStateName(s);
  }
}

// Every allowed (from, to); everything else is refused.
TEST(JobState, AllowedTransitionsAreExactlyTheDocumentedOnes) {
  std::set<std::pair<S, S>> allowed = {
      {S::kPending, S::kMatching},    {S::kMatching, S::kMatched},
      {S::kMatched, S::kExporting},   {S::kExporting, S::kPolling},
      {S::kPolling, S::kDownloading}, {S::kDownloading, S::kComplete},
      {S::kMatching, S::kNoMatch},    {S::kMatching, S::kConsentRefused},
      {S::kPolling, S::kExporting},   {S::kDownloading, S::kExporting},
      {S::kComplete, S::kExporting},  // concurrent-coverage refresh
  };
  for (int i = 0; i < 6; ++i) {
    for (S to : {S::kFailed, S::kCancelled, S::kConsentExpired}) {
      allowed.insert({static_cast<S>(i), to});
    }
  }
  for (int f = 0; f < kJobStateCount; ++f) {
    for (int t = 0; t < kJobStateCount; ++t) {
      const auto from = static_cast<S>(f);
      const auto to = static_cast<S>(t);
      EXPECT_EQ(IsAllowedTransition(from, to), allowed.count({from, to}) == 1)
          << JobStateName(from) << " -> " << JobStateName(to);
    }
  }
}

TEST(JobState, OutOfRangeValuesAreNeverAllowed) {
  EXPECT_FALSE(IsAllowedTransition(static_cast<S>(-1), S::kFailed));
  EXPECT_FALSE(IsAllowedTransition(S::kPending, static_cast<S>(12)));
}

}  // namespace
}  // namespace p2p
