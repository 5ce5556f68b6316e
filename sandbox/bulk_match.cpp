#include "bulk_match.h"

#include <simdjson.h>

#include <cstdio>
#include <set>

#include "hrex_consent.h"
#include "member_match.h"
#include "text_util.h"

namespace p2p::sandbox {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kMatchParameters =
    "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-match-parameters";
constexpr size_t kMaxBundles = 10000;

std::string_view Str(element e, std::string_view key) {
  std::string_view out;
  if (e[key].get_string().get(out)) return {};
  return out;
}

BulkMatchDecision Bad(std::string_view code, const std::string& diagnostics) {
  BulkMatchDecision d;
  d.status = 400;
  d.error_body = OperationOutcome("error", code, diagnostics);
  return d;
}

// The submitted Patient with resourceType and id first, then its other fields as sent.
std::string PatientWithId(element patient, std::string_view id) {
  std::string out = R"({"resourceType":"Patient","id":)";
  AppendJsonString(out, id);
  object fields;
  if (!patient.get_object().get(fields)) {
    for (auto [key, value] : fields) {
      if (key == "resourceType" || key == "id") continue;
      out += ',';
      AppendJsonString(out, key);
      out += ':';
      out += simdjson::minify(value);
    }
  }
  out += '}';
  return out;
}

void AppendGroup(std::string& out, std::string_view param, std::string_view id,
                 std::string_view code, const BulkMatchDecision& d, BulkVerdict::Kind kind,
                 const Synth& synth) {
  out += R"({"name":)";
  AppendJsonString(out, param);
  out += R"(,"resource":{"resourceType":"Group","id":)";
  AppendJsonString(out, id);
  out += R"(,"type":"person","actual":true,"code":{"coding":[{"system":)"
         R"("http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS","code":)";
  AppendJsonString(out, code);
  out += R"(}]},"contained":[)";
  bool first = true;
  for (const BulkVerdict& v : d.verdicts) {
    if (v.kind != kind) continue;
    if (!first) out += ',';
    first = false;
    out += v.patient_json;
  }
  out += R"(],"member":[)";
  first = true;
  for (const BulkVerdict& v : d.verdicts) {
    if (v.kind != kind) continue;
    if (!first) out += ',';
    first = false;
    out += R"({"entity":{"reference":)";
    AppendJsonString(out, kind == BulkVerdict::kMatched
                              ? "Patient/" + synth.Member(*v.member).patient_id
                              : "#" + v.contained_id);
    out += R"(,"extension":[{"url":)";
    AppendJsonString(out, kMatchParameters);
    out += R"(,"valueReference":{"reference":)";
    AppendJsonString(out, "#" + v.contained_id);
    out += "}}]}}";
  }
  out += "]}}";
}

}  // namespace

BulkRoute RouteBulkMatch(const std::vector<std::string_view>& s) {
  if (s.size() >= 4 && s[0] == "v1" && s.back() == "$bulk-member-match" &&
      s[s.size() - 2] == "Group" &&
      (s.size() == 4 || (s.size() == 6 && s[2] == "bulk-data" && s[3] == "r4"))) {
    return BulkRoute::kKickoff;
  }
  if (s.size() == 5 && s[0] == "v1" && s[2] == "bulk-match" && s[3] == "job") {
    return BulkRoute::kStatus;
  }
  return BulkRoute::kNone;
}

std::string GroupTable::Add(std::vector<uint64_t> members) {
  std::lock_guard lock(mu_);
  std::string id = "bmm-" + std::to_string(next_++);
  while (order_.size() >= capacity_) {
    groups_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(id);
  groups_[id] = std::move(members);
  return id;
}

void GroupTable::AddNamed(const std::string& id, std::vector<uint64_t> members) {
  std::lock_guard lock(mu_);
  groups_[id] = std::move(members);
}

std::optional<std::vector<uint64_t>> GroupTable::Find(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = groups_.find(id);
  if (it == groups_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> MemberIndexOfKey(const Synth& synth, std::string_view key) {
  if (key.size() < 2 || key[0] != 'M') return std::nullopt;
  uint64_t index = 0;
  for (char c : key.substr(1)) {
    if (c < '0' || c > '9' || index > synth.size()) return std::nullopt;
    index = index * 10 + static_cast<uint64_t>(c - '0');
  }
  if (index >= synth.size() || synth.Member(index).member_key != key) return std::nullopt;
  return index;
}

BulkMatchDecision DecideBulkMatch(std::string_view body, const Synth& synth,
                                  std::string_view tenant, std::string_view today,
                                  HrexMode mode) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  element doc;
  if (parser.parse(padded).get(doc) || !doc.is_object())
    return Bad("invalid", "Malformed JSON body");
  if (Str(doc, "resourceType") != "Parameters") {
    return Bad("invalid", "Body must be a Parameters resource");
  }
  array params;
  if (doc["parameter"].get_array().get(params)) {
    return Bad("required", "Parameters.parameter is missing");
  }
  BulkMatchDecision d;
  std::set<std::string, std::less<>> ids;
  size_t index = 0, position = 0;
  for (element p : params) {
    const size_t param_position = position++;
    if (Str(p, "name") != "MemberBundle") continue;
    const std::string where = "MemberBundle[" + std::to_string(index) + "]";
    if (index++ >= kMaxBundles) {
      return Bad("too-costly", "At most " + std::to_string(kMaxBundles) + " MemberBundles");
    }
    array parts;
    if (p["part"].get_array().get(parts)) return Bad("required", where + ": no part");
    std::string single = R"({"resourceType":"Parameters","parameter":[)";
    bool first = true;
    element patient, consent;
    bool has_patient = false;
    size_t part_position = 0, consent_position = 0;
    for (element part : parts) {
      if (!first) single += ',';
      first = false;
      single += simdjson::minify(part);
      if (Str(part, "name") == "MemberPatient" && !part["resource"].get(patient))
        has_patient = true;
      if (Str(part, "name") == "Consent" && !part["resource"].get(consent)) {
        consent_position = part_position;
      }
      ++part_position;
    }
    single += "]}";
    MatchAnswer answer = MemberMatch(single, synth, tenant, today);
    if (answer.status == 400) {
      simdjson::dom::parser p2;
      element oo;
      std::string_view diag = "invalid";
      if (!p2.parse(answer.body).get(oo)) {
        array issues;
        if (!oo["issue"].get_array().get(issues)) {
          for (element i : issues) {
            diag = Str(i, "diagnostics");
            break;
          }
        }
      }
      return Bad("invalid", where + ": " + std::string(diag));
    }
    if (mode == HrexMode::kStrict11) {  // a non-conforming Consent refuses the whole request
      const std::vector<ConsentIssue> issues =
          CheckHrexConsent(simdjson::minify(consent),
                           "Parameters.parameter[" + std::to_string(param_position) + "].part[" +
                               std::to_string(consent_position) + "].resource");
      if (!issues.empty()) {
        BulkMatchDecision d422;
        d422.status = 422;
        d422.error_body = ConsentIssuesOutcome(issues);
        return d422;
      }
    }
    BulkVerdict v;
    if (answer.status == 200) {
      v.kind = BulkVerdict::kMatched;
      v.member = answer.member;
    } else if (answer.body.find("business-rule") != std::string::npos) {
      v.kind = BulkVerdict::kConsentConstrained;
    } else {
      v.kind = BulkVerdict::kNoMatch;
    }
    std::string_view id = has_patient ? Str(patient, "id") : std::string_view();
    v.contained_id = !id.empty() && id.size() <= 64 && ids.insert(std::string(id)).second
                         ? std::string(id)
                         : "member-" + std::to_string(index - 1);
    ids.insert(v.contained_id);
    v.patient_json = PatientWithId(patient, v.contained_id);
    d.verdicts.push_back(std::move(v));
  }
  if (d.verdicts.empty()) return Bad("required", "At least one MemberBundle parameter is required");
  return d;
}

std::string RenderBulkMatchAnswer(const BulkMatchDecision& d, const Synth& synth,
                                  std::string_view matched_group_id) {
  std::string out = R"({"resourceType":"Parameters","id":"bulk-member-match-out","parameter":[)";
  AppendGroup(out, "MatchedMembers", matched_group_id, "match", d, BulkVerdict::kMatched, synth);
  out += ',';
  AppendGroup(out, "NonMatchedMembers", std::string(matched_group_id) + "-nomatch", "nomatch", d,
              BulkVerdict::kNoMatch, synth);
  out += ',';
  AppendGroup(out, "ConsentConstrainedMembers", std::string(matched_group_id) + "-consent",
              "consentconstraint", d, BulkVerdict::kConsentConstrained, synth);
  out += "]}";
  return out;
}

std::string BulkMatchJobs::Create(std::string tenant, std::string answer,
                                  std::chrono::steady_clock::time_point started) {
  std::lock_guard lock(mu_);
  char id[40];
  std::snprintf(id, sizeof id, "bmm-job-%llu", static_cast<unsigned long long>(next_++));
  while (order_.size() >= capacity_) {
    jobs_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(id);
  jobs_[id] = BulkMatchJob{id, std::move(tenant), std::move(answer), started};
  return id;
}

std::optional<BulkMatchJob> BulkMatchJobs::Find(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

std::string GroupFileBody(const Synth& synth, const std::vector<uint64_t>& members,
                          std::string_view type, std::optional<int64_t> since) {
  std::string out;
  for (uint64_t m : members) {
    const uint64_t n = synth.ResourceCount(m, type);
    for (uint64_t k = 0; k < n; ++k) {
      if (since && synth.LastUpdated(m, type, k) < *since) continue;
      synth.AppendResource(m, type, k, out);
      out += '\n';
    }
  }
  return out;
}

}  // namespace p2p::sandbox
