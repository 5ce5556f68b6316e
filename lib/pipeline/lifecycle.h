// Member lifecycle: concurrent-coverage refresh, the consent period, revocation with
// keep or purge, and applying deleted[] files. The decisions are pure functions (tested
// table-driven); the steps that act call the state DB (state/lifecycle_db.h) and the store, and
// are hooked into the intake (Scheduler::Intake), the dispatch loop (Scheduler::Dispatch) and
// the job (JobRunner::Drive/Finish/Kickoff, FileDownloader::Fetch).
//
//  * Refresh: a job completes -> if its member is concurrent, not revoked, and the next refresh
//    (completion + refresh.interval) falls on or before both consent_end and coverage_end, the
//    refresh is due then; otherwise the member stays complete. A due refresh moves the job
//    complete -> exporting (an allowed transition, core/job_state.h) with _since = the last
//    manifest's transactionTime; it is an upsert into the store. --once runs start only the
//    refreshes due when the run starts, so a run always ends.
//  * Consent period: no request before consent_start (a pending job waits until that day;
//    --once leaves such jobs pending); after consent_end the existing consent_expired rule
//    applies and no refresh is scheduled.
//  * Revocation: the member's active job is cancelled (the export is cancelled at the payer by
//    the export-cancel sweep), refreshes stop, and with consent.on_revocation: purge the
//    member's resources of that payer are deleted from the store once no job of the member is
//    running; the purge's time and count are recorded.
//
// Threading: io_context thread only (as the scheduler). No PHI in errors or logs.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/options.h"
#include "core/member.h"
#include "core/result.h"
#include "state/lifecycle_db.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::pipeline::lifecycle {

// --- pure decisions ---

// When the next refresh of a member whose job completes at `completed_ms` is due; nullopt: none
// (not concurrent, revoked, or consent_end / coverage_end before the due day).
std::optional<int64_t> NextRefreshDue(const state::LifecycleRow& row, int64_t completed_ms,
                                      Millis interval);
// True when a refresh due now may still start on `today_days` (consent and coverage not over).
bool MayRefreshOn(const state::LifecycleRow& row, int64_t today_days);
// The first unix ms at which a request may be sent for a member whose consent starts on
// `consent_start` (YYYY-MM-DD); 0 when the date is empty or unreadable (validated at intake).
int64_t ConsentStartMs(std::string_view consent_start);

// A source file's rows, split: revocations (taken out of `rows`, as (payer, member_key)) and the
// lifecycle rows to record (concurrent members and consent periods starting after
// `today_days`). Rows left in `rows` go to StateDb::TakeIn as before.
struct IntakeSplit {
  std::vector<std::pair<std::string, std::string>> revoked;  // (payer, member_key)
  std::vector<state::LifecycleIntake> lifecycle;
};
IntakeSplit SplitIntake(std::vector<std::pair<uint64_t, MemberRow>>& rows, int64_t today_days);
// One row's part of that split when it is not a revocation: its lifecycle row, if any.
std::optional<state::LifecycleIntake> LifecycleOf(const MemberRow& row, int64_t today_days);

// --- steps ---

// After StateDb::TakeIn: records the lifecycle rows, then each revocation (idempotent: a crash
// before the source file is moved repeats it harmlessly).
Result<void> ApplyIntake(state::StateDb& db, const IntakeSplit& split,
                         const ConsentOptions& consent, int64_t now_ms);

// JobRunner, just before a job is saved complete: schedules (or ends) the member's refreshes.
Result<void> BeforeComplete(state::StateDb& db, const state::Job& job, Millis interval,
                            int64_t now_ms);

// JobRunner, in pending: the unix ms before which the job must not send a request (0: none).
int64_t NotBefore(const state::Job& job);

// JobRunner::Kickoff: the `_since` of this job's export ("" for a first export).
Result<std::string> ExportSince(state::StateDb& db, const state::Job& job);

// Scheduler: starts up to `limit` refreshes of `payer` due at `now_ms` (ending those whose
// consent or coverage is over instead); returns how many started.
Result<int> StartDueRefreshes(state::StateDb& db, const std::string& payer, int64_t now_ms,
                              int limit);

// Scheduler: applies up to `limit` pending purges of `payer` whose job is not in `running`;
// returns how many were done. Records the tombstone marks (NDJSON store) with the purge. A store
// that cannot take writes (ClassifyStorageError: full, read-only, unreachable) ends the pass
// early, the rest left pending; other store errors are returned.
Result<int> ApplyPurges(state::StateDb& db, store::ResourceStore& store, const std::string& payer,
                        const std::set<int64_t>& running, int limit, int64_t now_ms);

// --once: true when `payer` has nothing left to do but jobs waiting for their consent period.
Result<bool> OnlyConsentWaits(state::StateDb& db, const std::string& payer, int64_t now_ms);

}  // namespace p2p::pipeline::lifecycle
