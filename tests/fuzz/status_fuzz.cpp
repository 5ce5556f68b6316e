// libFuzzer target: ReadStatus (bulk-data manifest, 1up job status, 202 + X-Progress).
// Input: a header line "<code> <max_files> <X-Progress>\n", then the body. The code is 202 when
// the line starts with "202", else 200; max_files is clamped to 1..10000 (10000 when absent).
// Seeds read like "200 10000 \n{...manifest...}" and "202 100 45% complete\n". Invariants checked: every listed file has a FHIR type name and a
// non-empty URL of at most 4096 bytes, no list is longer than the limit, progress is -1..100,
// and a 202 answer is always kRunning.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "fhir/ndjson.h"
#include "fhir/export_status.h"

namespace {

void CheckFiles(const std::vector<p2p::fhir::OutputFile>& files, size_t max_files) {
  if (files.size() > max_files) std::abort();
  for (const p2p::fhir::OutputFile& f : files) {
    if (!p2p::fhir::IsFhirTypeName(f.type) || f.url.empty() || f.url.size() > 4096) std::abort();
    if (f.count < -1) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  std::string_view header = input.substr(0, eol);
  const std::string_view body = input.substr(eol + 1);
  const int status = header.substr(0, 3) == "202" ? 202 : 200;
  size_t max_files = 10000;
  std::string_view progress;
  if (const size_t sp = header.find(' '); sp != std::string_view::npos) {
    header.remove_prefix(sp + 1);
    size_t n = 0;
    size_t i = 0;
    for (; i < header.size() && header[i] >= '0' && header[i] <= '9' && n <= 10000; ++i) {
      n = n * 10 + static_cast<size_t>(header[i] - '0');
    }
    if (i > 0) max_files = std::clamp<size_t>(n, 1, 10000);
    if (i < header.size()) progress = header.substr(i + 1);
  }
  const p2p::Result<p2p::fhir::StatusInfo> st =
      p2p::fhir::ReadStatus(status, progress, body, max_files);
  if (!st.ok()) return 0;
  if (status == 202 && st->status != p2p::fhir::ExportStatus::kRunning) std::abort();
  if (st->progress_percent < -1 || st->progress_percent > 100) std::abort();
  CheckFiles(st->output, max_files);
  CheckFiles(st->error, max_files);
  CheckFiles(st->deleted, max_files);
  return 0;
}
