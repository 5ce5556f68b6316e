#include "fhir/answer_json.h"

#include <algorithm>
#include <utility>

// All readers share one pattern: parse the whole body with a local DOM parser (which copies it
// into its own padded buffer: readers are not hot), require an object, then read fields with
// these helpers, which enforce type, length and range and name the field in every error. Error
// messages are "<answer>: <field>: <what>" and never contain body text.

namespace p2p::fhir::answer_json {

using simdjson::SUCCESS;

Error Fail(ErrorKind kind, std::string_view ctx, std::string_view field, std::string_view what) {
  std::string msg(ctx);
  msg += ": ";
  if (!field.empty()) {
    msg += field;
    msg += ": ";
  }
  msg += what;
  return MakeError(kind, std::move(msg));
}

Error Protocol(std::string_view ctx, std::string_view field, std::string_view what) {
  return Fail(ErrorKind::kProtocol, ctx, field, what);
}

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

size_t FindNoCase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && Lower(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return i;
  }
  return std::string_view::npos;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsUrlText(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;  // printable ASCII only
  });
}

std::string CutUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut));
}

Result<dom::object> ParseObject(dom::parser& parser, std::string_view body, std::string_view ctx) {
  dom::element root;
  if (parser.parse(body.data(), body.size(), true).get(root) != SUCCESS) {
    return Fail(ErrorKind::kParse, ctx, "", "not JSON");
  }
  dom::object obj;
  if (root.get_object().get(obj) != SUCCESS) return Protocol(ctx, "", "not a JSON object");
  return obj;
}

bool Lookup(dom::object obj, std::string_view key, dom::element& out) {
  return obj.at_key(key).get(out) == SUCCESS && !out.is_null();
}

std::string_view StringOrEmpty(dom::element e) {
  std::string_view s;
  if (e.get_string().get(s) != SUCCESS) return {};
  return s;
}

Result<bool> GetString(dom::object obj, std::string_view key, size_t max, std::string_view ctx,
                       std::string_view field, std::string_view& out) {
  dom::element e;
  if (!Lookup(obj, key, e)) return false;
  if (e.get_string().get(out) != SUCCESS) return Protocol(ctx, field, "not a string");
  if (out.size() > max) {
    return Fail(ErrorKind::kTooLarge, ctx, field, "longer than " + std::to_string(max) + " bytes");
  }
  return true;
}

Result<bool> GetInt(dom::object obj, std::string_view key, int64_t min, int64_t max,
                    std::string_view ctx, std::string_view field, int64_t& out) {
  dom::element e;
  if (!Lookup(obj, key, e)) return false;
  const auto err = e.get_int64().get(out);
  if (err == simdjson::NUMBER_OUT_OF_RANGE) return Protocol(ctx, field, "out of range");
  if (err != SUCCESS) return Protocol(ctx, field, "not an integer");
  if (out < min || out > max) return Protocol(ctx, field, "out of range");
  return true;
}

std::string_view IssueText(dom::object issue) {
  std::string_view text;
  dom::element e;
  if (Lookup(issue, "details", e)) {
    dom::object details;
    if (e.get_object().get(details) == SUCCESS && Lookup(details, "text", e) &&
        e.get_string().get(text) == SUCCESS && !text.empty()) {
      return text;
    }
  }
  if (Lookup(issue, "diagnostics", e) && e.get_string().get(text) == SUCCESS) return text;
  return {};
}

void IssueTexts(dom::object issue, std::string_view& details_text, std::string_view& diagnostics) {
  details_text = {};
  diagnostics = {};
  dom::element e;
  dom::object details;
  if (Lookup(issue, "details", e) && e.get_object().get(details) == SUCCESS &&
      Lookup(details, "text", e)) {
    details_text = StringOrEmpty(e);
  }
  if (Lookup(issue, "diagnostics", e)) diagnostics = StringOrEmpty(e);
}

std::string_view IssueCode(dom::object issue) {
  std::string_view code;
  dom::element e;
  if (Lookup(issue, "code", e) && e.get_string().get(code) == SUCCESS && code.size() <= kMaxCode) {
    return code;
  }
  return {};
}

// A default-constructed dom::array must not be iterated, hence the copies into a vector.
std::optional<std::vector<dom::object>> OutcomeIssues(dom::object root) {
  std::string_view type;
  dom::element e;
  if (!Lookup(root, "resourceType", e) || e.get_string().get(type) != SUCCESS ||
      type != "OperationOutcome") {
    return std::nullopt;
  }
  std::vector<dom::object> issues;
  dom::array arr;
  if (Lookup(root, "issue", e) && e.get_array().get(arr) == SUCCESS) {
    for (dom::element item : arr) {
      if (issues.size() >= kMaxIssues) break;
      dom::object issue;
      if (item.get_object().get(issue) == SUCCESS) issues.push_back(issue);
    }
  }
  return issues;
}

}  // namespace p2p::fhir::answer_json
