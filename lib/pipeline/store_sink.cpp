#include "pipeline/store_sink.h"

namespace p2p::pipeline {

StoreSink::StoreSink(store::FileWriter* writer, std::string expected_type, size_t max_line_bytes,
                     size_t max_recorded_bad)
    : writer_(writer),
      max_recorded_bad_(max_recorded_bad),
      checker_(max_line_bytes, std::move(expected_type)),
      on_line_([this](const fhir::ChunkChecker::Line& line) { return OnLine(line); }) {
  if (writer_ != nullptr && writer_->TakesBlocks()) {
    checker_.TakeBlocks(
        [this](std::string_view lines, uint64_t /*first*/, uint64_t count) -> Result<uint64_t> {
          lines_ += count;
          auto token = writer_->PutBlock(lines, static_cast<int64_t>(count));
          if (token) stored_ += count;
          return token;
        },
        [this](uint64_t token) { writer_->WaitBlock(token); });
  }
}

// Every chunk from the HTTP client is followed by kBodySlack readable bytes, and the splitter pads
// the lines it copies: so every line can be checked in place, without a copy.
static_assert(http::kBodySlack >= fhir::kLinePadding);

Result<void> StoreSink::OnData(std::string_view chunk) {
  bytes_ += chunk.size();
  return checker_.Feed(chunk, on_line_);
}

Result<void> StoreSink::Finish() { return checker_.Finish(on_line_); }

void StoreSink::RecordBad(uint64_t line_no, std::string_view reason) {
  ++bad_;
  if (bad_lines_.size() < max_recorded_bad_) {
    bad_lines_.push_back({static_cast<int64_t>(line_no), std::string(reason)});
  }
}

Result<void> StoreSink::OnLine(const fhir::ChunkChecker::Line& line) {
  ++lines_;
  if (line.problem != fhir::LineProblem::kNone) {
    RecordBad(line.number, fhir::LineProblemName(line.problem));
    return Ok();
  }
  if (writer_ == nullptr) return Ok();
  auto r = writer_->Put(line.id, line.text);
  if (!r) return r;
  ++stored_;
  return Ok();
}

}  // namespace p2p::pipeline
