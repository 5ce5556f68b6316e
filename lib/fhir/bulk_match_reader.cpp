#include "fhir/bulk_match_reader.h"

#include <simdjson.h>

#include <map>

#include "fhir/ndjson.h"
#include "fhir/patient_ref.h"

namespace p2p::fhir {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kMatchParameters = "base-ext-match-parameters";
constexpr size_t kMaxRef = 64;

std::string_view Str(element e, std::string_view key) {
  std::string_view out;
  if (e[key].get_string().get(out)) return {};
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The contained Patients of a Group: id -> member ref.
std::map<std::string_view, std::string_view, std::less<>> ContainedRefs(element group) {
  std::map<std::string_view, std::string_view, std::less<>> out;
  array contained;
  if (group["contained"].get_array().get(contained)) return out;
  for (element c : contained) {
    std::string_view id = Str(c, "id");
    if (id.empty()) continue;
    std::string_view ref = id;
    array identifiers;
    if (!c["identifier"].get_array().get(identifiers)) {
      for (element i : identifiers) {
        if (Str(i, "system") == kBulkMemberSystem && !Str(i, "value").empty()) {
          ref = Str(i, "value");
          break;
        }
      }
    }
    out.emplace(id, ref);
  }
  return out;
}

// The submitted member a reference names: "#x" or "Patient/x" with x contained -> its ref;
// "#x" / "Patient/x" otherwise -> x; anything else "".
std::string_view Resolve(
    std::string_view reference,
    const std::map<std::string_view, std::string_view, std::less<>>& contained) {
  std::string_view id;
  if (!reference.empty() && reference.front() == '#') {
    id = reference.substr(1);
  } else {
    id = PatientIdOfReference(reference);
  }
  if (id.empty()) return {};
  if (auto it = contained.find(id); it != contained.end()) return it->second;
  return id;
}

Result<void> ReadGroup(element group, BulkMatchVerdict verdict, size_t max_members,
                       BulkMatchAnswer& out) {
  if (Str(group, "resourceType") != "Group") {
    return MakeError(ErrorKind::kProtocol, "$bulk-member-match answer: a parameter is not a Group");
  }
  auto contained = ContainedRefs(group);
  array members;
  if (group["member"].get_array().get(members)) return Ok();
  size_t listed = 0;
  for (element m : members) {
    element entity;
    if (m["entity"].get(entity)) {
      return MakeError(ErrorKind::kProtocol,
                       "$bulk-member-match answer: Group.member without entity");
    }
    std::string_view entity_ref = Str(entity, "reference");
    std::string_view submitted;
    array extensions;
    if (!entity["extension"].get_array().get(extensions)) {
      for (element x : extensions) {
        if (!EndsWith(Str(x, "url"), kMatchParameters)) continue;
        element value;
        if (!x["valueReference"].get(value)) submitted = Str(value, "reference");
        break;
      }
    }
    const bool entity_is_submitted = submitted.empty();
    std::string_view ref = Resolve(entity_is_submitted ? entity_ref : submitted, contained);
    if (ref.empty() || ref.size() > kMaxRef) {
      return MakeError(ErrorKind::kProtocol,
                       "$bulk-member-match answer: a Group member names no submitted member");
    }
    if (out.members.size() >= max_members) {
      return MakeError(ErrorKind::kTooLarge, "$bulk-member-match answer: more than " +
                                                 std::to_string(max_members) + " members");
    }
    BulkMatchMember bm;
    bm.member_ref = std::string(ref);
    bm.verdict = verdict;
    if (verdict == BulkMatchVerdict::kMatched && !entity_is_submitted) {
      bm.patient_id = std::string(PatientIdOfReference(entity_ref));
    }
    out.members.push_back(std::move(bm));
    ++listed;
  }
  if (verdict == BulkMatchVerdict::kMatched && listed > 0) {
    std::string_view id = Str(group, "id");
    if (!IsFhirId(id)) {
      return MakeError(ErrorKind::kProtocol,
                       "$bulk-member-match answer: matched Group has no FHIR id");
    }
    out.matched_group_id = std::string(id);
  }
  return Ok();
}

}  // namespace

Result<BulkMatchAnswer> ReadBulkMemberMatch(std::string_view body, size_t max_members) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  element doc;
  if (parser.parse(padded).get(doc)) {
    return MakeError(ErrorKind::kParse, "$bulk-member-match answer: not JSON");
  }
  if (Str(doc, "resourceType") == "Bundle") {
    array entries;
    bool found = false;
    if (!doc["entry"].get_array().get(entries)) {
      for (element e : entries) {
        element r;
        if (!e["resource"].get(r) && Str(r, "resourceType") == "Parameters") {
          doc = r;
          found = true;
          break;
        }
      }
    }
    if (!found) {
      return MakeError(ErrorKind::kProtocol,
                       "$bulk-member-match answer: Bundle without a Parameters entry");
    }
  }
  if (Str(doc, "resourceType") != "Parameters") {
    return MakeError(ErrorKind::kProtocol, "$bulk-member-match answer: not a Parameters");
  }
  BulkMatchAnswer out;
  array params;
  if (doc["parameter"].get_array().get(params)) return out;
  for (element p : params) {
    std::string_view name = Str(p, "name");
    BulkMatchVerdict verdict;
    if (name == "MatchedMembers") {
      verdict = BulkMatchVerdict::kMatched;
    } else if (name == "NonMatchedMembers") {
      verdict = BulkMatchVerdict::kNoMatch;
    } else if (name == "ConsentConstrainedMembers") {
      verdict = BulkMatchVerdict::kConsentRefused;
    } else {
      continue;
    }
    element group;
    if (p["resource"].get(group)) {
      return MakeError(ErrorKind::kProtocol,
                       "$bulk-member-match answer: " + std::string(name) + " has no resource");
    }
    auto r = ReadGroup(group, verdict, max_members, out);
    if (!r) return std::move(r).error();
  }
  return out;
}

}  // namespace p2p::fhir
