// libFuzzer target: every reader of lib/fhir/readers.h on arbitrary bytes. The first byte picks
// the status code and X-Progress source for ReadStatus. Invariants checked: readers never crash,
// a successful member-match group id is a FHIR id, output types are FHIR type names, and the
// OperationOutcome summary stays within 200 bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fhir/ndjson.h"
#include "fhir/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int status = (data[0] & 1) ? 200 : 202;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string_view progress = body.substr(0, 16);

  (void)p2p::fhir::ReadTokenResponse(body);
  (void)p2p::fhir::ReadOAuthError(body);
  const p2p::fhir::OperationOutcomeInfo oo = p2p::fhir::ReadOperationOutcome(body);
  if (oo.summary.size() > 200) std::abort();
  auto mm = p2p::fhir::ReadMemberMatch(body);
  if (mm.ok() && !mm->group_id.empty() && !p2p::fhir::IsFhirId(mm->group_id)) std::abort();
  (void)p2p::fhir::ReadKickoff((data[0] & 2) ? progress : std::string_view(), body);
  auto st = p2p::fhir::ReadStatus(status, progress, body, 64);
  if (st.ok()) {
    for (const auto& f : st->output) {
      if (!p2p::fhir::IsFhirTypeName(f.type) || f.url.empty()) std::abort();
    }
    if (st->output.size() > 64 || st->progress_percent > 100) std::abort();
  }
  return 0;
}
