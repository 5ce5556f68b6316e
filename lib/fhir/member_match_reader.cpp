#include "fhir/member_match_reader.h"

#include <simdjson.h>

#include <utility>
#include <vector>

#include "fhir/answer_json.h"
#include "fhir/ndjson.h"

namespace p2p::fhir {
namespace {

using simdjson::SUCCESS;
using namespace answer_json;

constexpr size_t kMaxParameters = 1000;  // parameters looked at in one Parameters

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
