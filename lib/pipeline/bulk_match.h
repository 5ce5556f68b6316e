// Bulk matching (Da Vinci PDex $bulk-member-match, `match.mode: bulk`) and Group exports whose
// resources belong to several members (a batch's matched Group, or an operator's
// `p2p-ingestd export --payer ID --group GROUP_ID`).
//
// A batch is a pseudo-job in the state DB (state/bulk_match_db.h), driven by the JobRunner like
// a member's job; BulkMatcher::Step owns its first steps and the members' joining:
//   * a member job of a bulk payer in pending joins the payer's open batch and is parked;
//   * a batch in pending (due when full or after match.batch_wait) is sealed: matching;
//   * a batch in matching without poll URL POSTs match.bulk_path with `Prefer: respond-async`
//     (one MemberBundle per waiting member, core/bulk_member_match.h); the 202's Content-Location
//     (or "Track job at") is committed as its poll URL; a 200 with the answer is taken at once;
//   * a batch in matching with a poll URL polls it (202: later, honouring Retry-After within
//     poll.min/max_interval; 200: the answer, fhir/bulk_match_reader.h) and applies the answer in
//     one transaction: members to matched (parked) / no_match / consent_refused / failed (missing
//     from the answer), the batch to matched with the matched Group id, or complete when no
//     member matched.
// From matched on the batch is an ordinary export job (kick-off, poll, download, re-kicks):
// ONE export of the matched Group for all its members. When the batch job ends, AfterRun()
// settles its members: complete with it, or failed with its reason (SettleAll() at start-up
// covers a crash in between). A batch whose request fails for good fails, and so do its members.
//
// Crash safety: every step above is committed before the next request; a restart resumes at the
// committed step (an unanswered POST is sent again: the server's orphan job is harmless; a poll
// is repeated). Members are never lost (their batch row stays until the answer is applied) nor
// duplicated (the unique member row moves state, never copies), and resources are upserts.
//
// Attribution (AttributeByPatient): the output files of a Group export are stored line by line
// under the member_key of the Patient each line belongs to (fhir/patient_ref.h): the member whose
// prior-payer Patient id is recorded for this payer (patient_keys: from the batch answers and from
// the Patient files of single-member exports), else the derived key "patient:<id>" (':' never
// occurs in a source member_key, so it cannot collide with one). Lines naming no Patient
// (Organization, Practitioner, ...) go under the export job's own key ("bulk-match:<n>" or
// "group:<GROUP_ID>").
//
// Threading: io_context thread only. Borrows the state DB and limits.
#pragma once

// Boost 1.74's awaitable.hpp needs <utility> first.
#include <utility>
// clang-format off
#include <boost/asio/awaitable.hpp>
// clang-format on

#include <cstdint>
#include <memory>

#include "core/result.h"
#include "pipeline/file_download.h"
#include "pipeline/payer_client.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::pipeline {

enum class BulkStep {
  kNotMine,   // not a bulk-match step: the JobRunner's own
  kContinue,  // committed; go on with the next step
  kWait,      // committed; the job is due later (or parked)
  kStop,      // committed; the job is terminal or its run ends here
};

class BulkMatcher {
 public:
  BulkMatcher(state::StateDb& db, const PipelineLimits& limits) : db_(db), limits_(limits) {}

  // Runs `job`'s next step when bulk matching owns it (see above), updating `job` as committed.
  // Errors: local (state DB) only, and kCancelled when an operator changed the job.
  boost::asio::awaitable<Result<BulkStep>> Step(state::Job& job, PayerClient& payer);

  // After a run of job `job_id`: a terminal batch's members are settled. Errors: state DB.
  Result<void> AfterRun(int64_t job_id);
  // Settles every terminal batch with members still waiting (start-up).
  Result<int64_t> SettleAll();

 private:
  boost::asio::awaitable<Result<BulkStep>> Send(state::Job& batch, PayerClient& payer);
  boost::asio::awaitable<Result<BulkStep>> Poll(state::Job& batch, PayerClient& payer);
  // Applies a 200 answer body.
  Result<BulkStep> Answer(state::Job& batch, PayerClient& payer, std::string_view body);
  Result<BulkStep> Save(state::Job& job, JobState previous);
  Result<BulkStep> Fail(state::Job& batch, std::string_view error_class, std::string detail,
                        int http_status);
  Result<BulkStep> Retry(state::Job& batch, PayerClient& payer, std::string_view error_class,
                         std::string detail, int http_status);
  Result<BulkStep> WaitForToken(state::Job& batch, PayerClient& payer, const Error& e);

  state::StateDb& db_;
  const PipelineLimits& limits_;
};

// Wraps `writer` (an output file of `job`) when `job` is a Group export, so that each line is
// stored with the member_key of its Patient (see above); for a single member's Patient file it
// records (Patient id -> job.member_key) in patient_keys at Commit(), before the file's done mark.
// Otherwise returns `writer` as it is. Errors: state DB.
Result<std::unique_ptr<store::FileWriter>> AttributeByPatient(
    state::StateDb& db, const state::Job& job, const std::string& type,
    std::unique_ptr<store::FileWriter> writer);

}  // namespace p2p::pipeline
