#include "pipeline/store_sink.h"

namespace p2p::pipeline {

StoreSink::StoreSink(store::FileWriter* writer, std::string expected_type, size_t max_line_bytes,
                     size_t max_recorded_bad)
    : writer_(writer),
      type_(std::move(expected_type)),
      max_recorded_bad_(max_recorded_bad),
      splitter_(
          max_line_bytes,
          [this](std::string_view line, uint64_t no) { return OnLine(line, no); },
          [this](uint64_t no) {
            ++lines_;
            RecordBad(no, fhir::LineProblemName(fhir::LineProblem::kTooLong));
          }) {}

Result<void> StoreSink::OnData(std::string_view chunk) {
  bytes_ += chunk.size();
  return splitter_.Feed(chunk);
}

Result<void> StoreSink::Finish() { return splitter_.Finish(); }

void StoreSink::RecordBad(uint64_t line_no, std::string_view reason) {
  ++bad_;
  if (bad_lines_.size() < max_recorded_bad_) {
    bad_lines_.push_back({static_cast<int64_t>(line_no), std::string(reason)});
  }
}

// Every chunk from the HTTP client is followed by kBodySlack readable bytes, and the splitter pads
// the lines it copies: so every line can be checked in place, without a copy (issue 6).
static_assert(http::kBodySlack >= fhir::kLinePadding);

Result<void> StoreSink::OnLine(std::string_view line, uint64_t line_no) {
  ++lines_;
  fhir::CheckedLine c = checker_.CheckPadded(line, type_);
  if (c.problem != fhir::LineProblem::kNone) {
    RecordBad(line_no, fhir::LineProblemName(c.problem));
    return Ok();
  }
  if (writer_ == nullptr) return Ok();
  auto r = writer_->Put(c.id, line);
  if (!r) return r;
  ++stored_;
  return Ok();
}

}  // namespace p2p::pipeline
