// State of Group exports and $bulk-member-match batches (migrations/006_bulk_match.sql).
//
// A Group export is a pseudo-job in `members` (member_key "bulk-match:<n>" for a batch,
// "group:<GROUP_ID>" for an operator's export of a known Group; ':' never occurs in a source
// member_key) that the JobRunner drives like a member's job. Its resources are stored under the
// member_key of the Patient each belongs to (patient_keys), see pipeline/bulk_match.h.
//
// Batch life (each arrow one committed transaction):
//   member pending --Join--> member matching, parked (next_ms = kParkedMs) in the payer's open
//     batch (a pseudo-job in pending, created by the first member; due when full or after
//     match.batch_wait)
//   batch pending --Seal--> batch matching (no member joins it any more; members' requested_ms)
//   batch matching --Apply--> each member matched (parked) | no_match | consent_refused | failed,
//     patient_keys recorded, the batch matched with the answer's Group id (or complete when no
//     member matched)
//   batch terminal --Settle--> its parked matched members complete (batch complete) or failed.
// Every step is idempotent on the state it finds, so a crash between two commits resumes.
//
// Holds PHI only in what it reads from members.row_json (BatchMember::row_json): never log it.
// Threading: the daemon's loop thread, like StateDb.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "state/state_db.h"

namespace p2p::state {

// Stored in group_exports.kind: never renumber.
enum class GroupExportKind : int { kBulkMatchBatch = 1, kOperatorGroup = 2 };

// Stored in bulk_batch_members.outcome: never renumber.
enum class BulkOutcome : int {
  kWaiting = 0,
  kMatched = 1,
  kNoMatch = 2,
  kConsentRefused = 3,
  kMissing = 4,  // not in the answer at all
};

// next_ms of a member waiting on its batch (2100-01-01): never due by itself.
inline constexpr int64_t kParkedMs = int64_t{4'102'444'800'000};
// deadline (unix s) and consent_end (days) of a pseudo-job: 9999-12-31, never reached.
inline constexpr int64_t kPseudoDeadline = 253'402'300'799;
inline constexpr int64_t kPseudoConsentEndDays = 2'932'896;

struct BatchMember {
  int64_t job_id = 0;
  std::string member_key;
  std::string row_json;  // PHI
};

struct MemberVerdict {
  int64_t job_id = 0;
  BulkOutcome outcome = BulkOutcome::kMissing;
  std::string patient_id;  // matched: the prior payer's Patient id ("" when the answer gave none)
};

struct GroupExportInfo {
  GroupExportKind kind = GroupExportKind::kOperatorGroup;
  std::string payer;
};

class BulkMatchDb {
 public:
  explicit BulkMatchDb(StateDb& db) : db_(db) {}

  // The Group export behind job `job_id`, nullopt for an ordinary member job.
  Result<std::optional<GroupExportInfo>> Find(int64_t job_id);

  // Member `member` (state pending in the DB) joins `payer`'s open batch, creating one (due at
  // now + wait_ms) when there is none; the member goes to matching, parked; a batch that reaches
  // `batch_size` becomes due now. One transaction. Returns the batch's job id. kCancelled when
  // the member is no longer pending (an operator changed it).
  Result<int64_t> Join(const Job& member, int batch_size, int64_t wait_ms, int64_t now_ms);

  // The members of batch `batch_job_id` waiting for the answer, by job id.
  Result<std::vector<BatchMember>> Waiting(int64_t batch_job_id);

  // Saves `batch` (pending -> matching) and stamps its waiting members' requested_ms, in one
  // transaction: from here on no member joins it.
  Result<void> Seal(const Job& batch, JobState previous, int64_t now_ms);

  // Records the answer: each verdict's member moves (matched: stays parked, group_id = the
  // batch's; no_match / consent_refused: terminal; missing: failed "protocol"), matched members'
  // (patient_id -> member_key) go to patient_keys, and `batch` is saved, all in one transaction.
  // Members no longer in matching (an operator's cancel) keep their state.
  Result<void> Apply(const Job& batch, JobState previous,
                     const std::vector<MemberVerdict>& verdicts, int64_t now_ms);

  // Batch `batch_job_id` is terminal: its members still parked (matched, or matching when the
  // batch ended before an answer) move to complete (matched, batch complete) or failed (with the
  // batch's error class). One transaction; returns how
  // many moved (0 when none are left, so calling again is harmless).
  Result<int64_t> Settle(int64_t batch_job_id, int64_t now_ms);
  // Settle() for every terminal batch that still has parked members (start-up, after a crash
  // between a batch's end and its Settle).
  Result<int64_t> SettleAll(int64_t now_ms);

  // An operator's export of `group_id` at `payer`: a pseudo-job "group:<group_id>" in matched,
  // due now. kInvalid "an export of Group <id> is already queued or running" when one is active.
  Result<int64_t> EnqueueGroupExport(const std::string& payer, const std::string& group_id,
                                     int64_t now_ms);

  // member_key of the prior payer's Patient `patient_id`; nullopt when unknown.
  Result<std::optional<std::string>> KeyForPatient(const std::string& payer,
                                                   std::string_view patient_id);
  // Records (patient_id, member_key) pairs for `payer` (upsert), in one transaction.
  Result<void> RecordPatientKeys(const std::string& payer,
                                 const std::vector<std::pair<std::string, std::string>>& pairs);

 private:
  Result<void> Transition(int64_t job_id, JobState from, JobState to, std::string_view error_class,
                          std::string_view detail, int64_t now_ms);

  StateDb& db_;
};

}  // namespace p2p::state
