// The field helpers every reader of a server's answer shares (token_response, member_match_reader,
// operation_outcome, export_status): JSON parsing into a caller-owned simdjson DOM parser, field
// reads that enforce type, length and range, text helpers, and access to an OperationOutcome's
// issues. Internal to lib/fhir: callers use the readers, not these.
//
// Errors: "<ctx>: <field>: <what>" (the answer, the field, the problem); the text of the body is
// never quoted (it may carry PHI). A wrong shape is kProtocol, non-JSON kParse, an over-long
// string kTooLarge. Pure functions; the dom objects returned borrow the caller's parser.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace p2p::fhir::answer_json {

namespace dom = simdjson::dom;

inline constexpr size_t kMaxUrl = 4096;
inline constexpr size_t kMaxCode = 256;
inline constexpr size_t kMaxSummary = 200;
inline constexpr size_t kMaxIssues = 100;  // issues looked at in one OperationOutcome

Error Fail(ErrorKind kind, std::string_view ctx, std::string_view field, std::string_view what);
Error Protocol(std::string_view ctx, std::string_view field, std::string_view what);

bool EqualsNoCase(std::string_view a, std::string_view b);
// Position of `needle` (lower case) in `hay` ignoring ASCII case, or npos.
size_t FindNoCase(std::string_view hay, std::string_view needle);
bool IsSpace(char c);
std::string_view Trim(std::string_view s);
// No spaces or control characters: the text goes into a request line or a header.
bool IsUrlText(std::string_view s);
// Cut to at most `max` bytes without splitting a UTF-8 sequence (input is valid UTF-8).
std::string CutUtf8(std::string_view s, size_t max);

// The body as a JSON object: kParse "not JSON", kProtocol "not a JSON object".
Result<dom::object> ParseObject(dom::parser& parser, std::string_view body, std::string_view ctx);
// Field lookup treating JSON null as absent.
bool Lookup(dom::object obj, std::string_view key, dom::element& out);
// The element's string, or "" when it is not a string.
std::string_view StringOrEmpty(dom::element e);
// Optional string: false when absent or null.
Result<bool> GetString(dom::object obj, std::string_view key, size_t max, std::string_view ctx,
                       std::string_view field, std::string_view& out);
// Optional integer in [min, max]: false when absent or null.
Result<bool> GetInt(dom::object obj, std::string_view key, int64_t min, int64_t max,
                    std::string_view ctx, std::string_view field, int64_t& out);

// details.text, else diagnostics, of one issue ("" when neither is a string).
std::string_view IssueText(dom::object issue);
// Both texts of one issue, for searches that look at either.
void IssueTexts(dom::object issue, std::string_view& details_text, std::string_view& diagnostics);
// issue.code when a string of at most kMaxCode bytes, else "".
std::string_view IssueCode(dom::object issue);
// The issues of an OperationOutcome (empty when it has none, at most kMaxIssues); nullopt when
// `root` is not one.
std::optional<std::vector<dom::object>> OutcomeIssues(dom::object root);

}  // namespace p2p::fhir::answer_json
