// Readers of OperationOutcomes (DESIGN.md "Tolerant parsing"): the classification of an error
// answer (no match, consent refused, transient, request invalid), and the issues of one line of
// an export's error[] file. Pure functions over the bytes, via simdjson's error-code API.
// The text they return MAY hold server text (which may quote member data): it is kept in the
// state DB only, never logged or shown; error messages never quote the body.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace p2p::fhir {

enum class OutcomeClass {
  kNone,            // not an OperationOutcome
  kNoMatch,         // member not found / several matches
  kConsentRefused,  // consent not acceptable
  kTransient,       // issue.code "transient" / "throttled" / "timeout"
  kRequestInvalid,  // the server refused our request as invalid (e.g. HRex profile validation)
  kOther,
};

struct OperationOutcomeInfo {
  OutcomeClass cls = OutcomeClass::kNone;
  std::string code;      // first issue.code
  std::string summary;   // first issue's details.text or diagnostics, cut to 200 bytes; for
                         // kRequestInvalid the validation issues' "<expression[0]>: <text>",
                         // joined by "; ", cut to 1000 bytes. MAY hold server text (which may
                         // quote member data): store it in the state DB, do not log it.
};
// Classification looks at every issue (up to 100): a transient code wins (always retryable);
// then an issue of severity error / fatal (or none) with code invalid / structure / required /
// value / invariant -> kRequestInvalid (nothing is known about the member); then "consent" in
// any details.text / diagnostics -> kConsentRefused; then code not-found / multiple-matches or
// text "no match" / "not found" / "multiple" -> kNoMatch; else kOther.
// Anything that is not a JSON OperationOutcome -> kNone.
OperationOutcomeInfo ReadOperationOutcome(std::string_view body);

// One issue of an OperationOutcome line of an export's error[] file.
struct OutcomeIssue {
  std::string severity;     // fatal | error | warning | information ("" when absent or other)
  std::string code;         // issue.code, printable ASCII up to 64 bytes ("unknown" otherwise)
  std::string diagnostics;  // details.text, else diagnostics, cut to 1000 bytes. MAY hold PHI:
                            // kept in the state DB only, never logged or shown.
};
// One NDJSON line of an error[] file -> its issues (up to 100; an OperationOutcome without
// issues gives one issue with code "unknown"). kParse when not JSON, kProtocol "error file line:
// not an OperationOutcome" when another resource. Messages never quote the line.
Result<std::vector<OutcomeIssue>> ReadOutcomeLine(std::string_view line);

}  // namespace p2p::fhir
