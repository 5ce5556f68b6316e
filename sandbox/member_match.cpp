#include "member_match.h"

#include <simdjson.h>

#include <cctype>
#include <vector>

#include "hrex_consent.h"
#include "text_util.h"

namespace p2p::sandbox {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

MatchAnswer Fail(int status, std::string_view code, std::string_view diagnostics) {
  return MatchAnswer{status, OperationOutcome("error", code, diagnostics), std::nullopt};
}

std::string_view StringField(element e, std::string_view key) {
  std::string_view out;
  if (e[key].get_string().get(out)) return {};
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

struct Demographics {
  std::vector<std::pair<std::string, std::vector<std::string>>> names;  // family, given[]
  std::string birth_date;
};

bool NamesMatch(const Demographics& d, const SynthMember& m) {
  std::string_view first_given = std::string_view(m.given).substr(0, m.given.find(' '));
  for (const auto& [family, given] : d.names) {
    if (!EqualsIgnoreCase(family, m.family) || given.empty()) continue;
    std::string joined;
    for (const std::string& g : given) {
      if (!joined.empty()) joined += ' ';
      joined += g;
    }
    if (EqualsIgnoreCase(joined, m.given) || EqualsIgnoreCase(given[0], first_given)) return true;
  }
  return false;
}

// The consent checks that do not depend on the member. Empty string = acceptable.
std::string ConsentProblem(element consent, std::string_view today, bool* regular) {
  if (StringField(consent, "status") != "active") return "Consent refused: status must be active";
  array policies;
  bool known_policy = false, has_regular = false, has_sensitive = false;
  if (!consent["policy"].get_array().get(policies)) {
    for (element p : policies) {
      std::string_view uri = StringField(p, "uri");
      if (EndsWith(uri, "#regular")) {
        known_policy = true;
        has_regular = true;
      } else if (EndsWith(uri, "#sensitive")) {
        known_policy = true;
        has_sensitive = true;
      }
    }
  }
  if (!known_policy) return "Consent refused: policy uri must end with #regular or #sensitive";
  *regular = has_regular && !has_sensitive;  // a #sensitive grant covers segmented data too
  element provision;
  if (consent["provision"].get(provision) || StringField(provision, "type") != "permit") {
    return "Consent refused: provision.type must be permit";
  }
  element period;
  if (provision["period"].get(period)) return "Consent refused: provision.period is required";
  std::string_view start = StringField(period, "start");
  std::string_view end = StringField(period, "end");
  if (start.size() > 10) start = start.substr(0, 10);
  if (end.size() > 10) end = end.substr(0, 10);
  if ((!start.empty() && start > today) || (!end.empty() && end < today)) {
    return "Consent refused: provision.period does not cover today";
  }
  return {};
}

void AppendParameters(std::string& out, const SynthMember& m, std::string_view tenant) {
  out += R"({"resourceType":"Parameters","id":"member-match-out","parameter":[)";
  out += R"({"name":"MemberIdentifier","valueIdentifier":{"type":{"coding":[{"system":)"
         R"("http://terminology.hl7.org/CodeSystem/v2-0203","code":"MB"}]},"system":)";
  AppendJsonString(out, "https://p2p-sandbox.invalid/fhir/" + std::string(tenant) + "/member-id");
  out += R"(,"value":)";
  AppendJsonString(out, m.patient_id);
  out += R"(}},{"name":"groupId","valueString":)";
  AppendJsonString(out, m.group_id);
  out += "}]}";
}

}  // namespace

MatchAnswer MemberMatch(std::string_view body, const Synth& synth, std::string_view tenant,
                        std::string_view today, HrexMode mode) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  element doc;
  if (parser.parse(padded).get(doc) || !doc.is_object()) {
    return Fail(400, "invalid", "Malformed JSON body");
  }
  if (StringField(doc, "resourceType") != "Parameters") {
    return Fail(400, "invalid", "Body must be a Parameters resource");
  }
  array parameters;
  if (doc["parameter"].get_array().get(parameters)) {
    return Fail(400, "required", "Parameters.parameter is missing");
  }
  element patient, coverage, consent;
  int patients = 0, coverages = 0, consents = 0, links = 0;
  size_t position = 0, consent_position = 0;
  for (element p : parameters) {
    const size_t here = position++;
    std::string_view name = StringField(p, "name");
    element resource;
    bool has_resource = !p["resource"].get(resource) && resource.is_object();
    int* count = nullptr;
    element* slot = nullptr;
    if (name == "MemberPatient") count = &patients, slot = &patient;
    else if (name == "CoverageToMatch") count = &coverages, slot = &coverage;
    else if (name == "Consent") count = &consents, slot = &consent;
    else if (name == "CoverageToLink") count = &links;
    else continue;
    if (!has_resource) {
      return Fail(400, "required", "Parameter " + std::string(name) + " has no resource");
    }
    ++*count;
    if (slot) *slot = resource;
    if (slot == &consent) consent_position = here;
  }
  auto exactly_one = [](int n, std::string_view name) {
    return "Exactly one " + std::string(name) + " parameter is required (found " +
           std::to_string(n) + ")";
  };
  if (patients != 1) return Fail(400, "required", exactly_one(patients, "MemberPatient"));
  if (coverages != 1) return Fail(400, "required", exactly_one(coverages, "CoverageToMatch"));
  if (consents != 1) return Fail(400, "required", exactly_one(consents, "Consent"));
  if (links > 1) return Fail(400, "invalid", "At most one CoverageToLink parameter is allowed");
  auto wrong_type = [](element r, std::string_view type) {
    std::string_view rt = StringField(r, "resourceType");
    return !rt.empty() && rt != type;
  };
  if (wrong_type(patient, "Patient")) return Fail(400, "invalid", "MemberPatient must be a Patient");
  if (wrong_type(coverage, "Coverage")) {
    return Fail(400, "invalid", "CoverageToMatch must be a Coverage");
  }
  if (wrong_type(consent, "Consent")) return Fail(400, "invalid", "Consent must be a Consent");

  Demographics demo;
  array names;
  if (!patient["name"].get_array().get(names)) {
    for (element n : names) {
      std::pair<std::string, std::vector<std::string>> entry;
      entry.first = std::string(StringField(n, "family"));
      array given;
      if (!n["given"].get_array().get(given)) {
        for (element g : given) {
          std::string_view text;
          if (!g.get_string().get(text)) entry.second.emplace_back(text);
        }
      }
      if (!entry.first.empty()) demo.names.push_back(std::move(entry));
    }
  }
  demo.birth_date = std::string(StringField(patient, "birthDate"));
  if (demo.names.empty() || demo.birth_date.empty()) {
    return Fail(400, "required", "MemberPatient needs name.family and birthDate");
  }
  std::vector<std::string_view> coverage_ids;
  array identifiers;
  if (!coverage["identifier"].get_array().get(identifiers)) {
    for (element id : identifiers) {
      std::string_view value = StringField(id, "value");
      if (!value.empty()) coverage_ids.push_back(value);
    }
  }
  if (coverage_ids.empty()) {
    return Fail(400, "required", "CoverageToMatch needs an identifier value");
  }

  if (mode == HrexMode::kStrict11) {
    const std::vector<ConsentIssue> issues = CheckHrexConsent(
        simdjson::minify(consent),
        "Parameters.parameter[" + std::to_string(consent_position) + "].resource");
    if (!issues.empty()) return MatchAnswer{422, ConsentIssuesOutcome(issues), std::nullopt};
  }

  bool regular = false;
  if (std::string problem = ConsentProblem(consent, today, &regular); !problem.empty()) {
    return Fail(422, "business-rule", problem);
  }

  std::vector<uint64_t> matches;
  for (std::string_view id : coverage_ids) {
    auto index = synth.FindByCoverageId(id);
    if (!index) continue;
    bool seen = false;
    for (uint64_t m : matches) seen = seen || m == *index;
    if (seen) continue;
    SynthMember member = synth.Member(*index);
    if (member.birth_date == demo.birth_date && NamesMatch(demo, member)) matches.push_back(*index);
  }
  if (matches.empty()) {
    return Fail(422, "processing", "No member matches the submitted demographics and coverage");
  }
  if (matches.size() > 1) {
    return Fail(422, "processing", "Several members match; the match is not unique");
  }
  SynthMember member = synth.Member(matches[0]);
  if (regular && member.has_unsegmentable_sensitive_data) {
    return Fail(422, "business-rule",
                "Consent refused: this member's data cannot be segmented; a #sensitive policy is "
                "required");
  }
  MatchAnswer answer;
  answer.member = matches[0];
  AppendParameters(answer.body, member, tenant);
  return answer;
}

}  // namespace p2p::sandbox
