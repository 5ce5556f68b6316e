// Applying one deleted[] file of a job's manifest: the body (NDJSON of Bundles whose
// entries DELETE "Type/id", fhir/deleted_bundle.h) streams into DeletedFileSink; then the
// references are deleted from the store for the job's payer (ResourceStore::Delete; the NDJSON
// store stages them with the job's lines and writes them when the job is published, so that they
// cover this export's lines too) and the file is marked done together with the tombstone marks
// (state/lifecycle_db.h; none for a staged deletion). Same download rules as output files: the
// job's token rule (requiresAccessToken), retryable failures retried with backoff up to
// retry.max_attempts, 404/410 = the export's files are gone. A line that is
// not a readable Bundle is a bad line (counted and recorded, never quoted); the others apply.
// The job runner applies a job's deleted[] files after all its output files, so a deletion is
// never overtaken by the same export's data.
//
// Threading: io_context thread only.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "fhir/deleted_bundle.h"
#include "fhir/ndjson.h"
#include "http/client.h"
#include "pipeline/file_download.h"
#include "pipeline/payer_client.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::pipeline {

class DeletedFileSink : public http::BodySink {
 public:
  // More than `max_refs` references in one file is kTooLarge (the file fails).
  DeletedFileSink(size_t max_line_bytes, size_t max_refs);

  Result<void> OnData(std::string_view chunk) override;
  Result<void> Finish();

  const std::vector<store::ResourceRef>& refs() const { return refs_; }
  uint64_t lines() const { return splitter_.lines(); }
  uint64_t bytes() const { return splitter_.bytes(); }
  const std::vector<state::BadLine>& bad_lines() const { return bad_; }

 private:
  Result<void> OnLine(std::string_view line, uint64_t line_no);

  size_t max_refs_;
  fhir::DeletedBundleReader reader_;
  fhir::NdjsonSplitter splitter_;
  std::vector<fhir::DeletedRef> scratch_;
  std::vector<store::ResourceRef> refs_;
  std::vector<state::BadLine> bad_;
};

// Downloads and applies `file` (kind deleted) of `job`. Errors are local and fatal (state DB,
// store); server failures come back as a FileResult. A store that cannot take the deletions
// (full, read-only, unreachable: ClassifyStorageError) closes `gate` like a download does, and
// the deletions are tried again every limits.disk_full_wait until it takes them or the daemon
// stops (kStopped).
boost::asio::awaitable<Result<FileResult>> FetchDeletedFile(
    state::StateDb& db, store::ResourceStore& store, const state::Job& job, state::FileRow& file,
    PayerClient& payer, const PipelineLimits& limits, const std::atomic<bool>& stopping,
    StorageGate& gate);

}  // namespace p2p::pipeline
