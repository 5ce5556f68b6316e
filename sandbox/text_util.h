// Small text helpers for p2p-sandbox's server: JSON string escaping, OperationOutcome bodies,
// FHIR instants, percent/form/query decoding, HTTP Basic credentials and durations.
//
// All functions are pure and thread-safe. Parsers return std::nullopt on malformed input; the
// caller turns that into its own error answer. Deliberately independent of lib/ (the daemon's
// readers): the sandbox is a second reading of the same specifications.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace p2p::sandbox {

// Appends `text` as a JSON string literal (with quotes) to `out`.
void AppendJsonString(std::string& out, std::string_view text);

// `{"resourceType":"OperationOutcome","id":id?,"issue":[{"severity":..,"code":..,
//   "diagnostics":..}]}` (id omitted when empty).
std::string OperationOutcome(std::string_view severity, std::string_view code,
                             std::string_view diagnostics);

// Milliseconds since the epoch -> "2026-01-05T16:08:38.956Z".
std::string FormatInstant(int64_t epoch_ms);
// Seconds since the epoch -> "YYYY-MM-DD" (UTC).
std::string FormatDate(int64_t epoch_s);
// RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string FormatHttpDate(int64_t epoch_s);

// FHIR instant / dateTime / date -> seconds since the epoch (fractions dropped). Accepts
// "YYYY-MM-DD", "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)". nullopt when malformed.
std::optional<int64_t> ParseInstant(std::string_view text);

// Decodes %XX escapes (and '+' as space when `plus_is_space`). nullopt on a bad escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// application/x-www-form-urlencoded (also a URL query): key -> value; a repeated key keeps
// the first value. nullopt on a bad escape.
std::optional<std::map<std::string, std::string>> ParseForm(std::string_view text);

// "Basic base64(id:secret)" -> {id, secret} (both percent-decoded per RFC 6749 2.3.1).
struct BasicCredentials {
  std::string id;
  std::string secret;
};
std::optional<BasicCredentials> ParseBasicAuth(std::string_view header_value);
std::optional<std::string> Base64Decode(std::string_view text);

// "250ms", "2s", "1.5s", "3m", "1h"; a bare number means seconds. nullopt when malformed or
// negative.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// True when `text` ends with `suffix`.
inline bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace p2p::sandbox
