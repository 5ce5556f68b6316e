#include "fhir/token_response.h"

#include <simdjson.h>

#include <algorithm>
#include <utility>

#include "fhir/answer_json.h"

namespace p2p::fhir {
namespace {

using simdjson::SUCCESS;
using namespace answer_json;

constexpr size_t kMaxAccessToken = 8192;

}  // namespace

Result<TokenResponse> ReadTokenResponse(std::string_view body) {
  constexpr std::string_view kCtx = "token response";
  dom::parser parser;
  auto root = ParseObject(parser, body, kCtx);
  if (!root) return std::move(root).error();
  TokenResponse out;

  std::string_view s;
  auto got = GetString(*root, "access_token", kMaxAccessToken, kCtx, "access_token", s);
  if (!got) return std::move(got).error();
  if (!*got) return Protocol(kCtx, "access_token", "missing");
  if (s.empty()) return Protocol(kCtx, "access_token", "empty");
  if (!IsUrlText(s)) return Protocol(kCtx, "access_token", "not a printable token");
  out.access_token = std::string(s);

  got = GetString(*root, "token_type", kMaxCode, kCtx, "token_type", s);
  if (!got) return std::move(got).error();
  if (*got && !EqualsNoCase(s, "bearer")) return Protocol(kCtx, "token_type", "not Bearer");
  out.token_type = "Bearer";

  // expires_in: an integer; tolerated as an integral double or a string of digits.
  dom::element e;
  if (Lookup(*root, "expires_in", e)) {
    int64_t secs = 0;
    double d = 0;
    std::string_view digits;
    if (e.is_int64()) {
      secs = e.get_int64().value_unsafe();
    } else if (e.get_double().get(d) == SUCCESS) {
      if (!(d >= -1e12 && d <= 1e12)) return Protocol(kCtx, "expires_in", "out of range");
      secs = static_cast<int64_t>(d);
    } else if (e.get_string().get(digits) == SUCCESS && !digits.empty() && digits.size() <= 12 &&
               std::all_of(digits.begin(), digits.end(),
                           [](char c) { return c >= '0' && c <= '9'; })) {
      secs = std::stoll(std::string(digits));
    } else {
      return Protocol(kCtx, "expires_in", "not a number");
    }
    out.expires_in = std::clamp<int64_t>(secs, 1, 86400);
  }

  got = GetString(*root, "scope", kMaxUrl, kCtx, "scope", s);
  if (!got) return std::move(got).error();
  if (*got) out.scope = std::string(s);
  return out;
}

std::string ReadOAuthError(std::string_view body) {
  dom::parser parser;
  auto root = ParseObject(parser, body, "oauth error");
  if (!root) return {};
  std::string_view code;
  dom::element e;
  if (!Lookup(*root, "error", e) || e.get_string().get(code) != SUCCESS) return {};
  // RFC 6749 §5.2: error codes are printable ASCII without '"' and '\'.
  if (code.empty() || code.size() > kMaxCode) return {};
  for (char c : code) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return {};
  }
  return std::string(code);
}

}  // namespace p2p::fhir
