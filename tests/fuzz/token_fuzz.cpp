// libFuzzer target: the token endpoint's answers as lib/auth/token_cache.cpp reads them:
// ReadTokenResponse (200) and ReadOAuthError (400/401). Invariants checked: an accepted token is
// 1..8192 printable ASCII bytes (it goes into an Authorization header) and expires_in is within
// 1..86400.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fhir/token_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)p2p::fhir::ReadOAuthError(body);
  const p2p::Result<p2p::fhir::TokenResponse> tr = p2p::fhir::ReadTokenResponse(body);
  if (!tr.ok()) return 0;
  if (tr->access_token.empty() || tr->access_token.size() > 8192) std::abort();
  for (const char c : tr->access_token) {
    if (c < 0x20 || c > 0x7e) std::abort();
  }
  if (tr->expires_in < 1 || tr->expires_in > 86400) std::abort();
  return 0;
}
