// libFuzzer target: fhir::ChunkChecker (the download path: splitting and checking on a worker
// thread, one slot behind) against the inline NdjsonSplitter + LineChecker on arbitrary bytes.
// The first byte picks the chunk size (1..256) and, in its low bits, 1..4 chunks per slot; the
// second the line limit, its low bit whether chunks are received into FillBuffer() (the
// zero-copy path, as the HTTP client reads a download) or copied, and its next bit whether runs
// of good lines come as blocks (TakeBlocks, the NDJSON store's path; a block must be unchanged
// until released). The worker runs from the
// first byte. ChunkChecker must deliver exactly
// the lines, numbers, problems and ids the inline path gives, in the same order. A separate
// target from ndjson_fuzz: the thread hand-overs make each input ~50 times slower.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "fhir/chunk_checker.h"
#include "fhir/ndjson.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t chunk = static_cast<size_t>(data[0]) + 1;
  const size_t max_line = static_cast<size_t>(data[1]) * 16 + 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  using Got = std::tuple<uint64_t, p2p::fhir::LineProblem, std::string, std::string>;
  std::vector<Got> want;
  static p2p::fhir::LineChecker checker;
  p2p::fhir::NdjsonSplitter splitter(
      max_line,
      [&](std::string_view line, uint64_t n) -> p2p::Result<void> {
        const p2p::fhir::CheckedLine c = checker.Check(line, "Patient");
        want.emplace_back(n, c.problem, std::string(line), std::string(c.id));
        return p2p::Ok();
      },
      [&](uint64_t n) { want.emplace_back(n, p2p::fhir::LineProblem::kTooLong, "", ""); });
  if (!splitter.Feed(text).ok() || !splitter.Finish().ok()) std::abort();

  // ChunkChecker reads past each chunk (kLinePadding bytes, as http::BodySink chunks allow).
  std::vector<char> padded(text.begin(), text.end());
  padded.resize(text.size() + p2p::fhir::kLinePadding, '"');
  // Before the checker: its destructor releases the blocks still lent.
  std::vector<Got> got;
  std::vector<std::pair<std::string_view, std::string>> lent;  // view, copy; token = index + 1
  size_t released = 0;
  p2p::fhir::ChunkChecker cc(max_line, "Patient", 0, chunk * (1 + (data[0] & 3)));
  if ((data[1] & 2) != 0) {
    cc.TakeBlocks(
        [&](std::string_view lines, uint64_t first, uint64_t count) -> p2p::Result<uint64_t> {
          if (lines.empty() || lines.back() != '\n') std::abort();
          for (size_t at = 0; at < lines.size(); ++first, --count) {
            const size_t end = lines.find('\n', at);
            const std::string_view line = lines.substr(at, end - at);
            const p2p::fhir::CheckedLine c = checker.Check(line, "Patient");
            if (c.problem != p2p::fhir::LineProblem::kNone || count == 0) std::abort();
            got.emplace_back(first, c.problem, std::string(line), std::string(c.id));
            at = end + 1;
          }
          if (count != 0) std::abort();
          lent.emplace_back(lines, std::string(lines));
          return lent.size();
        },
        [&](uint64_t token) {
          for (; released < token; ++released) {
            if (lent[released].first != lent[released].second) std::abort();  // changed while lent
          }
        });
  }
  const p2p::fhir::ChunkChecker::LineFn fn =
      [&](const p2p::fhir::ChunkChecker::Line& l) -> p2p::Result<void> {
    got.emplace_back(l.number, l.problem, std::string(l.text), std::string(l.id));
    return p2p::Ok();
  };
  for (size_t i = 0; i < text.size(); i += chunk) {
    const size_t n = std::min(chunk, text.size() - i);
    const std::span<char> to = (data[1] & 1) != 0 ? cc.FillBuffer() : std::span<char>{};
    if (to.size() >= n + p2p::fhir::kLinePadding) {
      std::copy_n(padded.data() + i, n + p2p::fhir::kLinePadding, to.data());
      if (!cc.Feed(std::string_view(to.data(), n), fn).ok()) std::abort();
      continue;
    }
    if (!cc.Feed(std::string_view(padded.data() + i, n), fn).ok()) std::abort();
  }
  if (!cc.Finish(fn).ok()) std::abort();
  if (got != want) std::abort();
  return 0;
}
