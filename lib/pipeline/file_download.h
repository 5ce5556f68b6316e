// Downloading one manifest file of a job into the store: the body streams through
// StoreSink (split, checked, stored line by line), then the store commit and the file's "done"
// mark (with its counts, bad lines and the NDJSON store mark) are committed together. Retryable
// failures (network, timeout, truncated body, 408/429/5xx) are retried with backoff up to
// retry.max_attempts; 404/410 means the export's files are gone. Never counted as attempts: a
// full or read-only store (see StorageGate), SQLITE_BUSY from an outside writer (waited out) and
// a token endpoint that is down (kAuth: waited out with backoff).
//
// Threading: io_context thread only. Several Fetch() calls (files of one or more jobs) may run at
// once; each touches only its own FileRow.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <string>

#include "core/consent.h"
#include "core/result.h"
#include "metrics/metrics.h"
#include "pipeline/payer_client.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::pipeline {

struct PipelineLimits {
  size_t max_line_bytes = 8 * 1024 * 1024;     // longer NDJSON lines are recorded as bad
  size_t max_answer_bytes = 1024 * 1024;       // $member-match, kick-off answers
  size_t max_manifest_bytes = 16 * 1024 * 1024;
  size_t max_manifest_files = 10000;
  int max_rekicks = 3;           // export reported failed -> kick off again, at most this often
  int max_expired_rekicks = 10;  // files gone (404/410: expired) -> kick off again
  Millis disk_full_wait{30000};  // store full or read-only: probe again this often (Scheduler
                                 // sets it from store.full_retry_interval)
  int files_in_parallel = 4;                   // downloads of one job at a time
  // Concurrent coverage: a complete job is exported again this long after it completed
  // (Scheduler sets it from refresh.interval; pipeline/lifecycle.h).
  Millis refresh_interval{90LL * 24 * 3600 * 1000};
  // Our own plan, the recipient in every member's Consent (Scheduler sets it from self.name and
  // self.identifier; core/consent.h). Unknown: the Consent names no actors.
  ConsentParty self;
};

struct RunCounters {
  int64_t resources_stored = 0;
  int64_t bad_lines = 0;
  int64_t bytes_downloaded = 0;
  int64_t files_done = 0;
};

enum class FileOutcome {
  kDone,     // stored and committed
  kGone,     // 404/410: the export's files expired; re-kick the export
  kFailed,   // terminal failure or retries exhausted (see FileResult)
  kStopped,  // the pipeline is stopping; nothing committed for this file
  kWait,     // the payer throttles, or its token endpoint fails: the job waits (see `wait`)
};

struct FileResult {
  FileOutcome outcome = FileOutcome::kDone;
  std::string error_class;  // for kGone / kFailed
  std::string detail;       // no PHI: file index, URL path, reason
  int http_status = 0;
  Error wait{};             // for kWait: the kThrottled or kAuth error
};

enum class StorageProblem { kNone, kDiskFull, kReadOnly, kUnreachable };

// kDiskFull for a store error that means "no space", kReadOnly for a read-only file system or
// database, kUnreachable for a store server that cannot be reached (ErrorKind::kUnavailable:
// down, restarting, failing over), kNone for anything else.
StorageProblem ClassifyStorageError(const Error& e);

// The store's health as the downloads see it. A full, read-only or unreachable store closes the gate: said
// once in the log (error) and in /status (metric::kStorageProblem, see status/status_server.h); no
// new download starts while it is closed, and one download (the prober) tries again every
// disk_full_wait. Its first successful commit reopens the gate (logged) and the others go on.
// Nothing is committed for a file whose write failed, so the state stays consistent.
// Threading: io_context thread only.
class StorageGate {
 public:
  // Closes the gate (or keeps it closed) for `problem`; `detail` has no PHI (store paths only).
  void Close(StorageProblem problem, const std::string& detail, Metrics& metrics);
  void Open(Metrics& metrics);
  bool closed() const { return problem_ != StorageProblem::kNone; }
  // One download probes the closed store at a time.
  bool TakeProbe() {
    if (probing_) return false;
    probing_ = true;
    return true;
  }
  void ReleaseProbe() { probing_ = false; }

 private:
  StorageProblem problem_ = StorageProblem::kNone;
  bool probing_ = false;
};

class FileDownloader {
 public:
  FileDownloader(state::StateDb& db, store::ResourceStore& store, const PipelineLimits& limits,
                 const std::atomic<bool>& stopping, RunCounters& counters);

  // Downloads `file` of `job` (updating `file`'s counts and attempts). Errors are local and
  // fatal (state DB); server failures come back as a FileResult.
  boost::asio::awaitable<Result<FileResult>> Fetch(const state::Job& job, state::FileRow& file,
                                                   PayerClient& payer);

 private:
  state::StateDb& db_;
  store::ResourceStore& store_;
  const PipelineLimits& limits_;
  const std::atomic<bool>& stopping_;
  RunCounters& counters_;
  StorageGate gate_;
};

}  // namespace p2p::pipeline
