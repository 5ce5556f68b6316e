#include "fhir/readers.h"

#include <simdjson.h>

#include <algorithm>
#include <utility>

#include "fhir/answer_json.h"
#include "fhir/ndjson.h"
#include "fhir/resource_types.h"

namespace p2p::fhir {
namespace {

using simdjson::SUCCESS;
using namespace answer_json;

constexpr size_t kMaxAccessToken = 8192;
constexpr size_t kMaxParameters = 1000;  // parameters looked at in one Parameters

}  // namespace

// ---------------------------------------------------------------------------------------------
// Token endpoint

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

// ---------------------------------------------------------------------------------------------
// $member-match

namespace {

// The id in "Group/<id>", "https://host/base/Group/<id>" or ".../Group/<id>/_history/<v>";
// "" when the reference is not to a Group.
std::string_view GroupIdFromReference(std::string_view ref) {
  const size_t hist = ref.find("/_history/");
  if (hist != std::string_view::npos) ref = ref.substr(0, hist);
  const size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos) return {};
  const std::string_view head = ref.substr(0, slash);
  if (head != "Group" && !(head.size() > 6 && head.substr(head.size() - 6) == "/Group")) return {};
  return ref.substr(slash + 1);
}

}  // namespace

Result<MemberMatchResult> ReadMemberMatch(std::string_view body) {
  constexpr std::string_view kCtx = "member-match answer";
  dom::parser parser;
  auto root = ParseObject(parser, body, kCtx);
  if (!root) return std::move(root).error();
  MemberMatchResult out;
  bool have_group = false;
  auto take_group = [&](std::string_view id) {
    if (!have_group) {
      out.group_id = std::string(id.substr(0, kMaxUrl));
      have_group = true;
    }
  };

  dom::element e;
  std::string_view s;
  std::string_view type;
  if (Lookup(*root, "resourceType", e) && e.get_string().get(type) == SUCCESS) {
    if (type == "Group") {  // a bare Group instead of Parameters
      if (Lookup(*root, "id", e) && e.get_string().get(s) == SUCCESS) take_group(s);
    } else if (type != "Parameters") {
      return Protocol(kCtx, "resourceType", "not Parameters");
    }
  } else if (Lookup(*root, "groupId", e) && e.get_string().get(s) == SUCCESS) {
    take_group(s);  // plain JSON {"groupId": "..."}
  }

  std::vector<dom::object> params;
  if (Lookup(*root, "parameter", e)) {
    dom::array arr;
    if (e.get_array().get(arr) != SUCCESS) return Protocol(kCtx, "parameter", "not an array");
    for (dom::element item : arr) {
      if (params.size() >= kMaxParameters) break;
      dom::object p;
      if (item.get_object().get(p) == SUCCESS) params.push_back(p);
    }
  }
  for (dom::object p : params) {
    std::string_view name;
    if (Lookup(p, "name", e)) name = StringOrEmpty(e);

    if (EqualsNoCase(name, "groupId")) {
      for (std::string_view key : {"valueString", "valueId", "valueCode"}) {
        if (Lookup(p, key, e) && e.get_string().get(s) == SUCCESS) take_group(s);
      }
    }
    dom::object obj;
    if (Lookup(p, "valueReference", e) && e.get_object().get(obj) == SUCCESS &&
        Lookup(obj, "reference", e) && e.get_string().get(s) == SUCCESS) {
      const std::string_view id = GroupIdFromReference(s);
      if (!id.empty()) take_group(id);
    }
    if (Lookup(p, "resource", e) && e.get_object().get(obj) == SUCCESS &&
        Lookup(obj, "resourceType", e) && e.get_string().get(type) == SUCCESS && type == "Group" &&
        Lookup(obj, "id", e) && e.get_string().get(s) == SUCCESS) {
      take_group(s);
    }
    // HRex STU 1: MemberIdentifier; some servers call it MemberId (STU 1.1 uses MemberId for a
    // Patient reference, which is not an identifier and is ignored here).
    if ((name == "MemberIdentifier" || name == "MemberId") && out.member_identifier.empty() &&
        Lookup(p, "valueIdentifier", e) && e.get_object().get(obj) == SUCCESS &&
        Lookup(obj, "value", e) && e.get_string().get(s) == SUCCESS && !s.empty()) {
      if (s.size() > kMaxCode) {
        return Fail(ErrorKind::kTooLarge, kCtx, "MemberIdentifier",
                    "longer than " + std::to_string(kMaxCode) + " bytes");
      }
      out.member_identifier = std::string(s);
    }
  }

  if (have_group && !IsFhirId(out.group_id)) return Protocol(kCtx, "", "group id is not a FHIR id");
  if (!have_group && out.member_identifier.empty()) {
    return Protocol(kCtx, "", "no group id and no MemberIdentifier");
  }
  return out;
}

}  // namespace p2p::fhir
