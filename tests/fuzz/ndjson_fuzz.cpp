// libFuzzer target: NdjsonSplitter + LineChecker on arbitrary bytes.
// The first byte picks the chunk size (1..256) and the second the line limit, so that lines
// crossing chunk boundaries and overlong lines are both exercised. Invariants checked: a
// delivered line holds no '\n', is not longer than the limit, line numbers increase, and a
// LineChecker id (when given) is a FHIR id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fhir/ndjson.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t chunk = static_cast<size_t>(data[0]) + 1;
  const size_t max_line = static_cast<size_t>(data[1]) * 16 + 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  static p2p::fhir::LineChecker checker;
  uint64_t last = 0;
  p2p::fhir::NdjsonSplitter splitter(
      max_line,
      [&](std::string_view line, uint64_t n) -> p2p::Result<void> {
        if (line.find('\n') != std::string_view::npos || line.size() > max_line || n <= last) {
          std::abort();
        }
        last = n;
        const p2p::fhir::CheckedLine c = checker.Check(line, (n % 2) ? "Patient" : "");
        if (c.problem == p2p::fhir::LineProblem::kNone && !p2p::fhir::IsFhirId(c.id)) std::abort();
        return p2p::Ok();
      },
      [&](uint64_t n) {
        if (n <= last) std::abort();
        last = n;
      });
  for (size_t i = 0; i < text.size(); i += chunk) {
    if (!splitter.Feed(text.substr(i, chunk)).ok()) std::abort();
  }
  if (!splitter.Finish().ok()) std::abort();
  if (splitter.bytes() != text.size()) std::abort();
  return 0;
}
