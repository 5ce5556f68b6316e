// The daemon's scheduler: takes members in from the source, and for each payer keeps up to
// limits.concurrency jobs running, earliest request deadline first, within the bounds over all
// payers (top-level limits): each job running holds a slot of limits.max_jobs_in_flight
// (JobAdmission: payers waiting for one are served earliest deadline first, without starving
// any) and each file downloading a slot of limits.max_downloads (DownloadSlots). Jobs waiting
// (poll interval, backoff) do not hold a slot; the scheduler wakes when a job finishes, when new
// members arrive, when a slot is granted, or when the earliest waiting job is due.
//
// A throttling payer (PayerClient) starts no job until it is due again; then the jobs it starts
// find one of them probing. Run(once=true) takes in what the source holds, drives every job to a
// terminal state and returns, except a payer whose credentials are rejected: its jobs are left
// waiting (AuthRejected() names it); Run(once=false) goes on until Stop(). Stop() stops starting requests; jobs stop at
// their next step boundary (everything already committed), in-flight requests are abandoned
// when the io_context stops.
//
// Threading: io_context thread only. Borrows options, state DB, store and source.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "http/client.h"
#include "metrics/metrics.h"
#include "config/options.h"
#include "http/slot_pool.h"
#include "pipeline/admission.h"
#include "pipeline/job_runner.h"
#include "pipeline/payer_client.h"
#include "source/directory_source.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::pipeline {

struct IntakeStats {
  int64_t files = 0;
  int64_t rows_taken = 0;
  int64_t rows_rejected = 0;
  int64_t rows_already_known = 0;
};

class Scheduler {
 public:
  Scheduler(boost::asio::io_context& io, const Options& options, state::StateDb& db,
            store::ResourceStore& store, source::DirectorySource& source, Metrics& metrics,
            const PipelineLimits& limits = {});
  ~Scheduler();

  // Result: an error only for fatal local failures (state DB, store).
  boost::asio::awaitable<Result<void>> Run(bool once);
  void Stop();
  // The options were changed in place (SIGHUP): re-read the limits (the payers' and the
  // top-level ones) and retry settings.
  void Reconfigured();
  bool stopping() const { return stopping_.load(); }

  // One intake pass over the source (also used by Run).
  Result<void> Intake();

  const IntakeStats& intake_stats() const { return intake_; }
  const RunCounters& counters() const { return counters_; }
  const std::vector<std::unique_ptr<PayerClient>>& payers() const { return payers_; }
  // Payers whose token endpoint rejects our credentials, with the OAuth error code.
  std::vector<std::pair<std::string, std::string>> AuthRejected() const;

 private:
  struct PayerLoop;
  boost::asio::awaitable<Result<void>> Dispatch(PayerLoop& loop, bool once);
  boost::asio::awaitable<void> RunOne(PayerLoop& loop, int64_t job_id);
  // The export of a job an operator cancelled (JobRunner::CancelExport), holding the job's slot.
  boost::asio::awaitable<void> CancelOne(PayerLoop& loop, int64_t job_id, std::string url);
  // A slot of limits.max_jobs_in_flight for `loop`'s next job `job_id` (the earliest runnable
  // not running). False: the payer now waits for one, in the order of that job's deadline.
  Result<bool> Admit(PayerLoop& loop, int64_t job_id);
  void WakeAll();
  // The loop of `payer` ("" = every loop) looks again now.
  void Wake(const std::string& payer);
  // Run() without joining and leaving the cluster.
  boost::asio::awaitable<Result<void>> RunLoops(bool once);
  // This process as the cluster sees it (instance.id, host, pid, lease timeout).
  state::InstanceInfo Instance() const;
  // PostgreSQL state: renews this instance's leases and heartbeat every third of
  // state.lease_timeout, divides the payers' request rates among the live instances and folds
  // the state's counters, until `done`; then cancels `finished`.
  boost::asio::awaitable<void> KeepLeases(bool& done, boost::asio::steady_timer& finished);

  boost::asio::io_context& io_;
  const Options& options_;
  state::StateDb& db_;
  store::ResourceStore& store_;
  source::DirectorySource& source_;
  PipelineLimits limits_;
  std::atomic<bool> stopping_{false};
  http::HttpClient http_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<PayerClient>> payers_;
  std::vector<std::unique_ptr<PayerLoop>> loops_;
  JobAdmission admission_;    // limits.max_jobs_in_flight
  http::SlotPool downloads_;  // limits.max_downloads (limits.max_requests: in http_)
  JobRunner runner_;
  RunCounters counters_;
  IntakeStats intake_;
  std::optional<Error> fatal_;
  boost::asio::steady_timer intake_timer_;
  boost::asio::steady_timer lease_timer_;
  Gauge& leases_gauge_;     // p2p_instance_leases
  Gauge& instances_gauge_;  // p2p_cluster_instances
};

}  // namespace p2p::pipeline
