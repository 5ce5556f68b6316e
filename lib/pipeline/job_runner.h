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
// Threading: io_context thread only. Borrows everything it is given.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>

#include "core/result.h"
#include "ops/metrics.h"
#include "pipeline/file_download.h"
#include "pipeline/payer_client.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::pipeline {

class JobRunner {
 public:
  // `metrics` may be null (tests).
  JobRunner(state::StateDb& db, store::ResourceStore& store, const PipelineLimits& limits,
            const std::atomic<bool>& stopping, RunCounters& counters, Metrics* metrics);

  boost::asio::awaitable<Result<void>> Run(int64_t job_id, PayerClient& payer);

 private:
  enum class Next { kContinue, kWait, kStop };
  using StepResult = Result<Next>;

  // Run() without the operator-change handling.
  boost::asio::awaitable<Result<void>> Drive(int64_t job_id, PayerClient& payer);

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
  // Export failed or files gone: kick off again within the budget, else fail.
  StepResult Rekick(state::Job& job, std::string_view why_class, std::string detail);

  state::StateDb& db_;
  const PipelineLimits& limits_;
  const std::atomic<bool>& stopping_;
  Metrics* metrics_;
  FileDownloader downloader_;
};

int64_t NowMs();

}  // namespace p2p::pipeline
