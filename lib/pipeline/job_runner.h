// Drives one member's job through its states (core/job_state.h), one committed step at a time:
//   pending -> matching -> matched -> exporting -> polling -> downloading -> complete.
// Every transition (and every attempt count, poll URL, manifest and finished file) is committed
// to the state DB before the next request is sent, so Run() can be abandoned at any instant and
// a later Run() of the same job resumes from the last committed step.
//
// Run() returns when the job is terminal, or must wait (next_ms in the future: polling interval,
// backoff), or the pipeline is stopping. Errors returned are local and fatal to this run (state DB
// or store failures); server failures are recorded on the job, never returned.
//
// Prior-payer failures: an export reported failed is kicked off again up to export.max_rekicks
// times, files gone (404/410) or expired up to export.max_expired_rekicks (each cause counted on
// its own: Job::failed_rekicks(), Job::expired_rekicks), then the job fails; a $member-match the
// payer refuses as invalid fails the job (request_invalid, not no_match); polling past
// poll.timeout fails it; a token endpoint that is down or rejects our credentials only makes
// the job wait (backoff, no attempt counted), and so does a throttling payer (until it is due
// again; past poll.timeout or retry.give_up_after the job fails with class `throttled`). An
// operator's cancel (or requeue) found at a step or file boundary ends the
// run and leaves the job as the operator set it; when the job had an export running and the
// payer allows it (export.cancel_with_delete), the export is cancelled with a Bulk Data DELETE.
//
// Threading: io_context thread only. Borrows everything it is given.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>

#include "core/result.h"
#include "http/slot_pool.h"
#include "metrics/metrics.h"
#include "pipeline/bulk_match.h"
#include "pipeline/file_download.h"
#include "pipeline/job_publish.h"
#include "pipeline/payer_client.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::pipeline {

class JobRunner {
 public:
  // `metrics` may be null (tests). `downloads` (may be null: no bound) is the pool of
  // limits.max_downloads: every file is fetched holding one of its slots, taken once the
  // payer's request rate lets the file's request go (PayerClient::AwaitTurn).
  JobRunner(state::StateDb& db, store::ResourceStore& store, const PipelineLimits& limits,
            const std::atomic<bool>& stopping, RunCounters& counters, Metrics* metrics,
            http::SlotPool* downloads = nullptr);

  boost::asio::awaitable<Result<void>> Run(int64_t job_id, PayerClient& payer);

  // Cancels the export of a job an operator cancelled: DELETE to `poll_url` when the payer allows
  // it (export.cancel_with_delete), then forgets the URL (best effort: a failure is logged).
  // Errors: state DB only.
  boost::asio::awaitable<Result<void>> CancelExport(int64_t job_id, std::string poll_url,
                                                    PayerClient& payer);

 private:
  enum class Next { kContinue, kWait, kStop };
  using StepResult = Result<Next>;

  // Run() without the operator-change handling; `job` is left as last seen.
  boost::asio::awaitable<Result<void>> Drive(int64_t job_id, PayerClient& payer, state::Job& job);

  boost::asio::awaitable<StepResult> Match(state::Job& job, PayerClient& payer);
  boost::asio::awaitable<StepResult> Kickoff(state::Job& job, PayerClient& payer);
  boost::asio::awaitable<StepResult> Poll(state::Job& job, PayerClient& payer);
  boost::asio::awaitable<StepResult> Download(state::Job& job, PayerClient& payer);

  // Commits the job (and logs the transition when the state changed).
  Result<void> Save(state::Job& job, JobState previous);
  // Moves the job to `terminal` with a classified reason and commits it.
  StepResult Finish(state::Job& job, JobState terminal, std::string_view error_class,
                    std::string detail, int http_status = 0);
  // A garbled answer to an idempotent step (match, kick-off, poll): try the step again after a
  // backoff, up to retry.max_attempts, then fail with `error_class`.
  StepResult RetryLater(state::Job& job, const PayerClient& payer, std::string_view error_class,
                        std::string detail, int http_status);
  // Export failed or files gone: kick off again within the payer's budget, else fail.
  StepResult Rekick(state::Job& job, const PayerClient& payer, std::string_view why_class,
                    std::string detail);
  // Paged manifests (export_manifest.cpp): reads the next page of a paged manifest recorded in
  // `page`, appends its files and commits them with the next link; downloading follows the last.
  boost::asio::awaitable<StepResult> NextManifestPage(state::Job& job, PayerClient& payer,
                                                      state::ExportPage page);
  // Downloads an error[] file: its OperationOutcome issues are recorded (not stored as
  // resources). Outcomes as FileDownloader::Fetch.
  boost::asio::awaitable<Result<FileResult>> FetchErrorFile(const state::Job& job,
                                                            state::FileRow& file,
                                                            PayerClient& payer);
  // One file of `job`: an operator's cancel found now ends the job (kCancelled error), a passed
  // Expires (`expires_ms`, 0 = none) makes it kGone; else FetchErrorFile or FileDownloader::Fetch.
  boost::asio::awaitable<Result<FileResult>> FetchFile(const state::Job& job, state::FileRow& file,
                                                       int64_t expires_ms, PayerClient& payer);
  // The payer's turn, then a download slot (always true without a pool). False: the pool
  // closed (stopping), nothing is held.
  boost::asio::awaitable<bool> TakeDownloadSlot(PayerClient& payer);
  void GiveBackDownloadSlot();
  // A step's request came back kThrottled or kAuth (IsWait): the job waits, counting no attempt.
  // Throttled: until the payer is due again, or fails with class `throttled` past its patience
  // (poll.timeout while polling, retry.give_up_after otherwise, from job.throttled_since_ms).
  StepResult WaitForPayer(state::Job& job, const PayerClient& payer, std::string_view step,
                          const Error& e);
  // The token endpoint failed (kAuth): wait about retry.max_delay, count no attempt.
  StepResult WaitForToken(state::Job& job, const PayerClient& payer, std::string_view step,
                          const Error& e);

  state::StateDb& db_;
  const PipelineLimits& limits_;
  const std::atomic<bool>& stopping_;
  Metrics* metrics_;
  http::SlotPool* downloads_;
  FileDownloader downloader_;
  JobPublisher publish_;  // the job's staged store lines: published with its completion
  BulkMatcher bulk_;  // $bulk-member-match batches and their members (pipeline/bulk_match.h)
};

int64_t NowMs();

// Cancelled jobs of `payer` whose export is still to be cancelled at the payer (the operator's
// cancel keeps poll_url; CancelExport clears it): up to `limit` (id, poll_url) pairs.
Result<std::vector<std::pair<int64_t, std::string>>> PendingExportCancels(state::StateDb& db,
                                                                          const std::string& payer,
                                                                          int limit);

}  // namespace p2p::pipeline
