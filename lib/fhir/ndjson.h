// Streaming NDJSON: split arbitrary network chunks into lines, then check each line.
//
// NdjsonSplitter joins lines split across chunks, handles "\r\n", skips blank lines, and caps a
// line's length. It holds at most one partial line; no allocation per line once warmed up.
// LineChecker checks one line is a JSON object (validated whole, by simdjson: see line_scan.h for
// the fast path and the DOM parser behind it) with "resourceType" equal to the expected type and
// a valid FHIR "id" ([A-Za-z0-9\-.]{1,64}).
//
// Threading: one instance per stream; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace p2p::fhir {

// Readable bytes a line must be followed by for LineChecker::CheckPadded (simdjson's
// SIMDJSON_PADDING; ndjson.cpp checks they agree).
inline constexpr size_t kLinePadding = 64;

class NdjsonSplitter {
 public:
  // `on_line(line, line_number)`: line without its terminator, 1-based number. Returning an error
  // stops Feed() which returns it. A line over `max_line_bytes` is reported to `on_overlong`
  // (line number) and skipped, not an error.
  using LineFn = std::function<Result<void>(std::string_view line, uint64_t line_number)>;
  using OverlongFn = std::function<void(uint64_t line_number)>;

  // Line numbers count every line, including blank ones (only spaces/tabs, skipped silently)
  // and overlong ones (never buffered whole: memory stays under max_line_bytes + 1 +
  // kLinePadding). A line wholly inside one chunk is passed as a view into the chunk; only lines
  // that span chunks are copied, into the splitter's own buffer, where they are followed by
  // kLinePadding readable bytes. So when every chunk is followed by kLinePadding readable bytes
  // of its buffer (as http::BodySink chunks are), every line is. `on_overlong` may be empty.
  NdjsonSplitter(size_t max_line_bytes, LineFn on_line, OverlongFn on_overlong);

  Result<void> Feed(std::string_view chunk);
  // End of body. A final line without "\n" is still a line (many servers omit the last newline)
  // if it is complete JSON; the checker decides. Returns the on_line error if any.
  Result<void> Finish();

  uint64_t lines() const { return line_no_; }
  uint64_t bytes() const { return bytes_; }

 private:
  size_t max_line_;
  LineFn on_line_;
  OverlongFn on_overlong_;
  Result<void> DeliverPartial();  // the line in partial_ (then emptied)

  std::string partial_;
  bool skipping_ = false;
  uint64_t line_no_ = 0;
  uint64_t bytes_ = 0;
};

// Why a line was rejected. Values are stored in SQLite: never renumber.
enum class LineProblem : int {
  kNone = 0,
  kNotJson = 1,
  kNotObject = 2,
  kNoResourceType = 3,
  kWrongResourceType = 4,
  kNoId = 5,
  kBadId = 6,
  kTooLong = 7,
  kNotUtf8 = 8,
};

std::string_view LineProblemName(LineProblem p);

struct CheckedLine {
  LineProblem problem = LineProblem::kNone;
  // Valid until the next Check(), and as long as the line's buffer (CheckPadded) is.
  std::string_view id;
};

class LineChecker {
 public:
  // kScanFirst (the default) decides most valid lines with StructuralScan and the rest with the
  // DOM parser; kDomOnly sends every line to the DOM parser. Both give the same answers: kDomOnly
  // exists so that tests and the differential fuzz target can show it.
  enum class Mode { kScanFirst, kDomOnly };

  explicit LineChecker(Mode mode = Mode::kScanFirst);
  ~LineChecker();
  // Checks `line` (no newline) against `expected_type` (e.g. "Patient"); an empty
  // `expected_type` accepts any FHIR type name. Order of checks: kNotUtf8 (the line is not valid
  // UTF-8), kNotJson (invalid JSON, trailing garbage), kNotObject, kNoResourceType (absent or not
  // a string), kWrongResourceType (other type, or the key repeated), kNoId, kBadId (not a string,
  // not a FHIR id, or the key repeated). kTooLong is never returned here: it is for the caller's
  // NdjsonSplitter on_overlong. No allocation once the longest line has been seen.
  CheckedLine Check(std::string_view line, std::string_view expected_type);
  // The same without the copy: `line` must be followed by kLinePadding readable bytes (any
  // content), which simdjson may read. The hot path (pipeline::StoreSink) uses it.
  CheckedLine CheckPadded(std::string_view line, std::string_view expected_type);
  // Lines the fast path decided alone, so far (for tests and benchmarks).
  uint64_t scanned() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True if `id` is a valid FHIR id: [A-Za-z0-9\-.]{1,64}.
bool IsFhirId(std::string_view id);

// True if `type` is a FHIR resource type name: [A-Z][A-Za-z]{1,63}.
bool IsFhirTypeName(std::string_view type);

}  // namespace p2p::fhir
