// The hot path of a download: network chunks -> NdjsonSplitter -> LineChecker -> FileWriter.
// Splitting and checking run in fhir::ChunkChecker: inline for a small body (in place in the
// received chunk, which http::kBodySlack pads for simdjson), on a worker thread one slot behind
// for a large one. The FileWriter is only ever called from this sink's (the loop) thread.
// Good lines are stored as they arrive (the body is never held whole); bad lines are counted and
// the first `max_recorded_bad` are kept (line number + reason, never content) for the state DB.
// Threading: one sink per download, io_context thread only (CommitFile too).
#pragma once

#include <utility>  // before awaitable.hpp, which uses std::exchange without it
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "fhir/chunk_checker.h"
#include "fhir/ndjson.h"
#include "http/client.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::pipeline {

class StoreSink : public http::BodySink {
 public:
  // `writer` may be null: lines are then only checked and counted (error files). It must
  // outlive the sink: a writer that TakesBlocks() gets runs of lines straight from the checker's
  // slots, and the sink waits for their writes (FileWriter::WaitBlock) before the slots go.
  StoreSink(store::FileWriter* writer, std::string expected_type, size_t max_line_bytes,
            size_t max_recorded_bad = 1000);

  Result<void> OnData(std::string_view chunk) override;
  // The checker's slot, once its worker runs: the body is received in place.
  std::span<char> Buffer() override { return checker_.FillBuffer(); }
  // End of body: delivers a final line without newline.
  Result<void> Finish();

  uint64_t lines() const { return lines_; }
  uint64_t stored() const { return stored_; }
  uint64_t bad() const { return bad_; }
  uint64_t bytes() const { return bytes_; }
  const std::vector<state::BadLine>& bad_lines() const { return bad_lines_; }

 private:
  Result<void> OnLine(const fhir::ChunkChecker::Line& line);
  void RecordBad(uint64_t line_no, std::string_view reason);

  store::FileWriter* writer_;
  size_t max_recorded_bad_;
  fhir::ChunkChecker checker_;
  fhir::ChunkChecker::LineFn on_line_;
  uint64_t lines_ = 0, stored_ = 0, bad_ = 0, bytes_ = 0;
  std::vector<state::BadLine> bad_lines_;
};

// Commits a downloaded file's writer. A writer that CommitsAsync() (PostgresStore) is waited
// for without blocking the event loop: its result is posted back to the calling coroutine's
// executor. Others commit here, synchronously.
boost::asio::awaitable<Result<store::StoreMark>> CommitFile(store::FileWriter& writer);

}  // namespace p2p::pipeline
