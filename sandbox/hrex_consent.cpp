#include "hrex_consent.h"

#include <simdjson.h>

#include "text_util.h"

namespace p2p::sandbox {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;

constexpr std::string_view kRule = "HRex 1.1 (hrex-consent) requires ";
constexpr std::string_view kPolicyBase =
    "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html";
constexpr std::string_view kConsentScope = "http://terminology.hl7.org/CodeSystem/consentscope";
constexpr std::string_view kActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr std::string_view kSourceRole =
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
constexpr std::string_view kRecipientRole =
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
constexpr std::string_view kConsentAction = "http://terminology.hl7.org/CodeSystem/consentaction";
constexpr std::string_view kReferenceForm =
    "(a reference string, or an identifier with system and value)";

std::string_view Str(element e, std::string_view key) {
  std::string_view out;
  if (e[key].get_string().get(out)) return {};
  return out;
}

bool Has(element e, std::string_view key) { return !e[key].error(); }

// True when the CodeableConcept `codeable` has a coding system|code.
bool HasCoding(element codeable, std::string_view system, std::string_view code) {
  array codings;
  if (codeable["coding"].get_array().get(codings)) return false;
  for (element c : codings) {
    if (Str(c, "system") == system && Str(c, "code") == code) return true;
  }
  return false;
}

// A Reference that names its target: a reference string or an identifier with system and value.
bool Identifies(element reference) {
  if (!reference.is_object()) return false;
  if (!Str(reference, "reference").empty()) return true;
  element id;
  return !reference["identifier"].get(id) && !Str(id, "system").empty() &&
         !Str(id, "value").empty();
}

class Checker {
 public:
  Checker(std::string_view path, std::vector<ConsentIssue>* issues)
      : path_(path), issues_(issues) {}

  void Add(std::string_view code, std::string_view element, std::string_view rule) {
    issues_->push_back(ConsentIssue{std::string(code), path_ + std::string(element),
                                    "Consent" + std::string(element) + ": " + std::string(rule)});
  }

  // The array `key` of `parent`; false (and a structure issue) when present but not an array.
  bool Items(element parent, std::string_view key, std::string_view element_path, array* out,
             bool* present) {
    *present = Has(parent, key);
    if (!*present) return true;
    if (parent[key].get_array().get(*out)) {
      Add("structure", element_path, "must be a JSON array (the element repeats in FHIR R4)");
      return false;
    }
    *present = out->size() > 0;
    return true;
  }

 private:
  std::string path_;
  std::vector<ConsentIssue>* issues_;
};

void CheckHeader(element consent, Checker& c) {
  const std::string rule = std::string(kRule);
  if (Str(consent, "status") != "active") {
    c.Add(Has(consent, "status") ? "value" : "required", ".status", rule + "status \"active\"");
  }
  element scope;
  if (consent["scope"].get(scope) || !HasCoding(scope, kConsentScope, "patient-privacy")) {
    c.Add(Has(consent, "scope") ? "value" : "required", ".scope",
          rule + "the scope " + std::string(kConsentScope) + "#patient-privacy");
  }
  array categories;
  bool present = false;
  if (c.Items(consent, "category", ".category", &categories, &present)) {
    bool disclosure = false;
    if (present) {
      for (element cat : categories) disclosure = disclosure || HasCoding(cat, kActCode, "IDSCL");
    }
    if (!disclosure) {
      c.Add(present ? "value" : "required", ".category",
            rule + "a category " + std::string(kActCode) + "#IDSCL (information disclosure)");
    }
  }
  element patient;
  if (consent["patient"].get(patient) || !Identifies(patient)) {
    c.Add("required", ".patient",
          rule + "a reference to the member's Patient " + std::string(kReferenceForm));
  }
  array performers;
  if (c.Items(consent, "performer", ".performer", &performers, &present)) {
    const std::string what = rule + "exactly one performer, the party that gave the consent " +
                             std::string(kReferenceForm);
    if (!present || !Identifies(performers.at(0).value_unsafe())) {
      c.Add("required", ".performer", what);
    } else if (performers.size() > 1) {
      c.Add("structure", ".performer", what);
    }
  }
  element source;
  if (consent["sourceReference"].get(source) || !Identifies(source)) {
    c.Add(Has(consent, "sourceAttachment") ? "value" : "required", ".sourceReference",
          rule + "sourceReference, a reference to the signed consent (a DocumentReference) " +
              std::string(kReferenceForm));
  }
  array policies;
  if (c.Items(consent, "policy", ".policy", &policies, &present)) {
    bool known = false;
    if (present) {
      for (element p : policies) {
        const std::string_view uri = Str(p, "uri");
        known = known || (uri.substr(0, kPolicyBase.size()) == kPolicyBase &&
                          (uri.substr(kPolicyBase.size()) == "#regular" ||
                           uri.substr(kPolicyBase.size()) == "#sensitive"));
      }
    }
    if (!known) {
      c.Add(present ? "value" : "required", ".policy",
            rule + "a policy with uri " + std::string(kPolicyBase) + "#regular or " +
                std::string(kPolicyBase) + "#sensitive");
    }
  }
}

void CheckActors(element provision, Checker& c) {
  array actors;
  bool present = false;
  if (!c.Items(provision, "actor", ".provision.actor", &actors, &present)) return;
  bool source = false, recipient = false;
  size_t index = 0;
  if (present) {
    for (element actor : actors) {
      element role;
      const bool has_role = !actor["role"].get(role);
      const bool is_source = has_role && HasCoding(role, kSourceRole, "performer");
      const bool is_recipient = has_role && HasCoding(role, kRecipientRole, "IRCP");
      element reference;
      const bool identified = !actor["reference"].get(reference) && Identifies(reference);
      if ((is_source || is_recipient) && !identified) {
        c.Add("required", ".provision.actor[" + std::to_string(index) + "].reference",
              std::string(kRule) + "each payer actor to name the payer " +
                  std::string(kReferenceForm) + "; an identifier reference is preferred");
      }
      source = source || (is_source && identified);
      recipient = recipient || (is_recipient && identified);
      ++index;
    }
  }
  if (index >= 2 && source && recipient) return;
  std::string_view why = "there is only one";  // one actor with both roles
  if (!present) {
    why = "there are none";
  } else if (!source && !recipient) {
    why = "neither payer is present with its role and a reference";
  } else if (!source) {
    why = "the source payer (role performer) is missing";
  } else if (!recipient) {
    why = "the recipient payer (role IRCP) is missing";
  }
  c.Add("required", ".provision.actor",
        std::string(kRule) + "at least 2 actors: the source payer (role " +
            std::string(kSourceRole) + "#performer) and the recipient payer (role " +
            std::string(kRecipientRole) +
            "#IRCP), each identified by an identifier reference (system and value); " +
            std::string(why));
}

void CheckProvision(element consent, Checker& c) {
  const std::string rule = std::string(kRule);
  element provision;
  if (consent["provision"].get(provision) || !provision.is_object()) {
    c.Add("required", ".provision",
          rule + "a provision: type permit, a period with start and end, the source and recipient "
                 "payer actors, and the action disclose");
    return;
  }
  if (Str(provision, "type") != "permit") {
    c.Add(Has(provision, "type") ? "value" : "required", ".provision.type",
          rule + "type \"permit\"");
  }
  element period;
  if (provision["period"].get(period) || !period.is_object()) {
    c.Add("required", ".provision.period", rule + "a period with start and end");
  } else {
    if (Str(period, "start").empty()) {
      c.Add("required", ".provision.period.start", rule + "the start of the consent period");
    }
    if (Str(period, "end").empty()) {
      c.Add("required", ".provision.period.end", rule + "the end of the consent period");
    }
  }
  CheckActors(provision, c);
  array actions;
  bool present = false;
  if (c.Items(provision, "action", ".provision.action", &actions, &present)) {
    const std::string what =
        rule + "exactly one action, " + std::string(kConsentAction) + "#disclose";
    if (!present) {
      c.Add("required", ".provision.action", what);
    } else if (actions.size() > 1) {
      c.Add("structure", ".provision.action", what);
    } else if (!HasCoding(actions.at(0).value_unsafe(), kConsentAction, "disclose")) {
      c.Add("value", ".provision.action", what);
    }
  }
  for (std::string_view key :
       {"securityLabel", "purpose", "class", "code", "dataPeriod", "data", "provision"}) {
    if (Has(provision, key)) {
      c.Add("structure", ".provision." + std::string(key),
            "HRex 1.1 (hrex-consent) prohibits this element: consent rules are expressed solely "
            "in policy");
    }
  }
}

}  // namespace

std::vector<ConsentIssue> CheckHrexConsent(std::string_view consent_json, std::string_view path) {
  std::vector<ConsentIssue> issues;
  Checker checker(path, &issues);
  simdjson::dom::parser parser;
  simdjson::padded_string padded(consent_json);
  element consent;
  if (parser.parse(padded).get(consent) || !consent.is_object()) {
    checker.Add("structure", "", "must be a JSON object");
    return issues;
  }
  CheckHeader(consent, checker);
  CheckProvision(consent, checker);
  return issues;
}

std::string ConsentIssuesOutcome(const std::vector<ConsentIssue>& issues) {
  std::string out = R"({"resourceType":"OperationOutcome","issue":[)";
  for (const ConsentIssue& issue : issues) {
    if (out.back() != '[') out += ',';
    out += R"({"severity":"error","code":)";
    AppendJsonString(out, issue.code);
    out += R"(,"diagnostics":)";
    AppendJsonString(out, issue.diagnostics);
    out += R"(,"expression":[)";
    AppendJsonString(out, issue.expression);
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace p2p::sandbox
