// libFuzzer target: ReadOperationOutcome (error answers of every endpoint). Invariants checked:
// the summary stays within 200 bytes (1000 for a request refused as invalid), and a body the reader does not recognise (kNone) yields
// no code and no summary.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fhir/operation_outcome.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const p2p::fhir::OperationOutcomeInfo oo = p2p::fhir::ReadOperationOutcome(body);
  const size_t max_summary = oo.cls == p2p::fhir::OutcomeClass::kRequestInvalid ? 1000 : 200;
  if (oo.summary.size() > max_summary) std::abort();
  if (oo.cls == p2p::fhir::OutcomeClass::kNone && (!oo.code.empty() || !oo.summary.empty())) {
    std::abort();
  }
  return 0;
}
