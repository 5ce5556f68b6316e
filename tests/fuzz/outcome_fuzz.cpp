// libFuzzer target: ReadOperationOutcome (error answers of every endpoint). Invariants checked:
// the summary stays within 200 bytes, and a body the reader does not recognise (kNone) yields
// no code and no summary.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fhir/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const p2p::fhir::OperationOutcomeInfo oo = p2p::fhir::ReadOperationOutcome(body);
  if (oo.summary.size() > 200) std::abort();
  if (oo.cls == p2p::fhir::OutcomeClass::kNone && (!oo.code.empty() || !oo.summary.empty())) {
    std::abort();
  }
  return 0;
}
