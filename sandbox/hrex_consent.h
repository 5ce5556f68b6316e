// Strict Consent checks of p2p-sandbox's `--hrex 1.1`: the constraints of the Da Vinci HRex
// STU 1.1 Consent profile (http://hl7.org/fhir/us/davinci-hrex/StructureDefinition/hrex-consent),
// as a payer that validates `$member-match` input against it would apply them.
//
// Checked (every rule that fails gives one issue; all are reported together):
//   status = active; scope has consentscope#patient-privacy; category has v3-ActCode#IDSCL;
//   patient, exactly one performer and sourceReference present (each a reference string or an
//   identifier with system and value); a policy whose uri is
//   http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular or
//   #sensitive; provision with type permit, period.start and period.end, at least one actor
//   with role provenance-participant-type#performer (the source payer) and one with role
//   v3-ParticipationType#IRCP (the recipient payer), each with a reference; exactly one action,
//   consentaction#disclose; none of provision.securityLabel, purpose, class, code, dataPeriod,
//   data, provision (prohibited by the profile).
// Not checked: resolving references (the target types), US Core Patient conformance.
//
// Issue codes are `required` (an element is absent), `value` (a wrong value), `structure` (a
// prohibited or repeated element). Diagnostics start with the element path and name the rule.
// Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace p2p::sandbox {

// How strictly $member-match and $bulk-member-match read the Consent (--hrex).
enum class HrexMode { kLenient, kStrict11 };

struct ConsentIssue {
  std::string code;         // required | value | structure | invalid
  std::string expression;   // FHIRPath: "Parameters.parameter[2].resource.policy"
  std::string diagnostics;  // for an operator: which element, which rule
};

// The issues of `consent_json` (a Consent resource) against hrex-consent; empty when it
// conforms. `path` is the resource's FHIRPath in the request ("Parameters.parameter[2].resource").
std::vector<ConsentIssue> CheckHrexConsent(std::string_view consent_json, std::string_view path);

// An OperationOutcome with one error issue per entry of `issues` (code, expression, diagnostics).
std::string ConsentIssuesOutcome(const std::vector<ConsentIssue>& issues);

}  // namespace p2p::sandbox
