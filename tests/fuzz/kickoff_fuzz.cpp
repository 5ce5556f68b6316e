// libFuzzer target: ReadKickoff (202 answer to $export: Content-Location, or 1up's
// "Track job at <url>" OperationOutcome). Input: the Content-Location header line (empty: absent,
// so the body is read), "\n", then the body. Invariants checked: a
// found URL is 1..4096 bytes, holds no control character or space, and does not end in '.', ','
// or ';' when it came from the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fhir/export_status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string_view location = input.substr(0, eol);
  const std::string_view body = input.substr(eol + 1);

  const p2p::Result<std::string> url = p2p::fhir::ReadKickoff(location, body);
  if (!url.ok()) return 0;
  if (url->empty() || url->size() > 4096) std::abort();
  for (const char c : *url) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) std::abort();
  }
  if (url->find(' ') != std::string::npos) std::abort();
  if (location.find_first_not_of(" \t\r\f\v") == std::string_view::npos) {
    const char last = url->back();
    if (last == '.' || last == ',' || last == ';') std::abort();
  }
  return 0;
}
