// The periodic progress line of p2p-ingestd (log.progress_interval): where the members stand and
// how fast resources arrive, from two samples of counters. Pure; the daemon samples (state DB
// counts, store totals, jobs in flight per payer) and logs FormatProgress(prev, now) on a timer
// while WorkInFlight(now).
//
// Line shape (parts with nothing to say are left out; see FormatProgress):
//   progress: 120 active (3 matching, 40 polling, 77 downloading), 50 pending, 9400 complete,
//   17 failed; 1520 resources/s, 12.4 MB/s; slowest payer elk (22 active, 0.5 finished/min)
// Members are counted, never named: the line holds no PHI (payer ids are not PHI).
//
// Threading: none; reentrant.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/job_state.h"

namespace p2p {

struct ProgressSample {
  std::int64_t at_ms = 0;  // when taken, any monotonic millisecond clock (same one for both)
  // Members (jobs) per state, indexed by static_cast<int>(JobState).
  std::array<std::int64_t, kJobStateCount> by_state{};
  std::int64_t resources_stored = 0;  // running total since any fixed point
  std::int64_t bytes_downloaded = 0;  // running total since any fixed point
  // Per payer (any order; zero entries allowed): jobs active now, and jobs finished (in a
  // terminal state) since any fixed point that is the same for both samples.
  struct Payer {
    std::string payer;
    std::int64_t active = 0;
    std::int64_t finished = 0;
  };
  std::vector<Payer> payers;
};

// Active = matching + matched + exporting + polling + downloading (a request or a download in
// progress or due); pending = queued, not started.
std::int64_t ActiveCount(const ProgressSample& sample);

// True when anything is active or pending: the daemon logs progress only then.
bool WorkInFlight(const ProgressSample& sample);

// "progress: " then, joined by ", ":
//   "N active" with the non-zero active states in state order in parentheses ("0 active" without
//   them); then each non-zero non-active state in state order: "N pending", "N complete",
//   "N no_match", "N consent_refused", "N consent_expired", "N failed", "N cancelled";
// then, when now.at_ms > prev.at_ms, "; R resources/s, B MB/s" with R the rounded integer rate of
// resources_stored and B the rate of bytes_downloaded in MB (10^6 bytes) with one decimal (a
// counter that went down counts as 0);
// then, when some payer has active jobs, "; slowest payer ID (N active, F finished/min)": among
// the payers with active jobs, the one that finished the fewest jobs per minute between the two
// samples (F with one decimal; 0 when no time passed or the payer is missing from `prev`); among
// equals the one with more active jobs, then the smallest id. A payer that finishes nothing
// while it holds work is the one an operator should look at.
std::string FormatProgress(const ProgressSample& prev, const ProgressSample& now);

}  // namespace p2p
