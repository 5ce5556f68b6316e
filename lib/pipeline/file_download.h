// Downloading one manifest file of a job into the store: the body streams through
// StoreSink (split, checked, stored line by line), then the store commit and the file's "done"
// mark (with its counts, bad lines and the NDJSON store mark) are committed together. Retryable
// failures (network, timeout, truncated body, 408/429/5xx) are retried with backoff up to
// retry.max_attempts; a full disk waits for space; 404/410 means the export's files are gone.
//
// Threading: io_context thread only. Several Fetch() calls (files of one or more jobs) may run at
// once; each touches only its own FileRow.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "ops/metrics.h"
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
  Millis disk_full_wait{30000};                // wait before retrying after ENOSPC
  int files_in_parallel = 4;                   // downloads of one job at a time
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
};

struct FileResult {
  FileOutcome outcome = FileOutcome::kDone;
  std::string error_class;  // for kGone / kFailed
  std::string detail;       // no PHI: file index, URL path, reason
  int http_status = 0;
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
};

}  // namespace p2p::pipeline
