// Readers of the OAuth token endpoint's answers (DESIGN.md "Tolerant parsing"): the access token
// of a 200, the "error" code of a 400 / 401. Pure functions over the bytes, via simdjson's
// error-code API; a wrong shape is kProtocol, non-JSON kParse. Error messages never quote the
// body (a 200 holds the token).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace p2p::fhir {

struct TokenResponse {
  std::string access_token;
  std::string token_type;  // "Bearer" (case-insensitive check)
  int64_t expires_in = 300;  // seconds; default 300 when absent; clamped to 1..86400
  std::string scope;
};
// access_token: required, 1..8192 printable ASCII bytes (it goes into a header); token_type
// absent is taken as Bearer; expires_in also accepted as "3600" or 3600.0.
Result<TokenResponse> ReadTokenResponse(std::string_view body);
// The OAuth "error" code of a 400/401 token answer ("invalid_client"), or "" if unreadable.
std::string ReadOAuthError(std::string_view body);

}  // namespace p2p::fhir
