// The state DB's member-lifecycle part (schema migrations/005_lifecycle.sql): the
// concurrent-coverage refresh schedule, the consent period, revocations and purges, and the
// NDJSON store's tombstone marks. Free functions over StateDb (statements prepared on demand:
// these run per member event, not per resource). Every function that changes state is one
// committed transaction when it returns Ok, like StateDb's own.
//
// A member's lifecycle row is keyed by (payer, member_key); its job is the member's latest row
// in `members` for that pair. Days are days since the epoch, times unix ms.
// Threading: the daemon's loop thread only (as StateDb).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "state/state_db.h"

namespace p2p::state {

struct LifecycleIntake {
  std::string payer, member_key;
  bool concurrent = false;
  int64_t consent_start_days = 0;
  int64_t consent_end_days = 0;
  std::optional<int64_t> coverage_end_days;
};

struct LifecycleRow {
  std::string payer, member_key;
  bool concurrent = false;
  int64_t consent_start_days = 0;
  std::optional<int64_t> consent_end_days, coverage_end_days;
  std::optional<int64_t> refresh_due_ms;
  int64_t refreshes = 0;
  std::string since;  // "" = none
  std::optional<int64_t> revoked_ms;
  bool purge_requested = false;
  std::optional<int64_t> purged_ms;
  int64_t purged_count = 0;
};

// Upserts the rows (one transaction): concurrent, consent and coverage dates are replaced by the
// newer source row's; the refresh schedule, revocation and purge columns are kept.
Result<void> RecordLifecycle(StateDb& db, const std::vector<LifecycleIntake>& rows);
// The same inside the caller's open Transaction (REQUIRES: one is open on db.handle()).
Result<void> RecordLifecycleInTransaction(StateDb& db, const std::vector<LifecycleIntake>& rows);
Result<std::optional<LifecycleRow>> LoadLifecycle(StateDb& db, const std::string& payer,
                                                  const std::string& member_key);

// A job of this member is about to complete: its next refresh is due at `due_ms` (nullopt: no
// more refreshes), and the finished export's _since is forgotten. No-op without a lifecycle row.
// Called before the job's own completion is saved: if the process dies in between, the job is
// not complete yet and a due refresh is not started for it (DueRefreshes requires complete).
Result<void> SetRefreshDue(StateDb& db, const std::string& payer, const std::string& member_key,
                           std::optional<int64_t> due_ms);

struct DueRefresh {
  int64_t job_id = 0;
  std::string member_key;
  std::string transaction_time;  // the last export's, the refresh's _since
};
// Complete jobs of `payer` whose refresh is due at `now_ms`, earliest first (index
// member_lifecycle_due, then one members_active lookup per row).
Result<std::vector<DueRefresh>> DueRefreshes(StateDb& db, const std::string& payer, int64_t now_ms,
                                             int limit);
// Starts the refresh of a complete job: complete -> exporting (event recorded), the job's
// export fields reset, its old file list dropped, the lifecycle's since = `since`, refresh_due
// cleared, refreshes + 1. False (nothing written) when the job is no longer complete.
Result<bool> StartRefresh(StateDb& db, int64_t job_id, const std::string& payer,
                          const std::string& member_key, const std::string& since,
                          int64_t now_ms);
// The _since of the export this member's job is kicking off: "" for a first export.
Result<std::string> RefreshSince(StateDb& db, const std::string& payer,
                                 const std::string& member_key);

struct Revocation {
  int64_t job_id = 0;           // the member's latest job; 0 when it has none
  bool cancelled = false;       // an active job was moved to cancelled
  bool purge_requested = false;
};
// Records a revocation (consent_revoked row or operator cancel), in one transaction: the
// lifecycle row (created if missing) gets revoked_ms, loses its refresh schedule and, with
// `purge`, purge_requested = 1 unless a purge is done already; the member's active job (if any)
// moves to cancelled with an event (its poll_url kept: the scheduler's export-cancel sweep sends
// the Bulk Data DELETE). Idempotent.
Result<Revocation> RecordRevocation(StateDb& db, const std::string& payer,
                                    const std::string& member_key, bool purge, int64_t now_ms);

// Payers (all, or only `payer` when not "") whose latest job of `member_key` is cancelled:
// where an operator's `p2p-ingestd cancel` just stopped work (a revocation too).
Result<std::vector<std::string>> CancelledPayersOf(StateDb& db, const std::string& member_key,
                                                  const std::string& payer);

struct PendingPurge {
  std::string member_key;
  int64_t job_id = 0;  // latest job (0: none)
};
Result<std::vector<PendingPurge>> PendingPurges(StateDb& db, const std::string& payer, int limit);
// The purge of (payer, member_key) is done: purged_ms, purged_count, purge_requested = 0, the
// tombstone marks (NDJSON store) and an event on the job (error_class "consent_purged"), in one
// transaction.
Result<void> PurgeDone(StateDb& db, const std::string& payer, const std::string& member_key,
                       int64_t job_id, int64_t count,
                       const std::vector<std::pair<std::string, int64_t>>& tombstone_marks,
                       int64_t now_ms);

// A deleted[] file is applied: the file row done with its counts and the tombstone marks, in one
// transaction.
Result<void> DeletedFileDone(StateDb& db, const FileRow& file,
                             const std::vector<std::pair<std::string, int64_t>>& tombstone_marks);
// Committed <Type>.deleted ends (NdjsonStore::Recover).
Result<std::map<std::string, int64_t>> TombstoneMarks(StateDb& db);

// --once: true when every non-terminal job of `payer` is a pending job waiting for a consent
// period that starts after `today_days` (such jobs are left for a later run).
Result<bool> OnlyConsentWaits(StateDb& db, const std::string& payer, int64_t today_days);

}  // namespace p2p::state
