#include "fhir/operation_outcome.h"

#include <simdjson.h>

#include <utility>

#include "fhir/answer_json.h"

namespace p2p::fhir {
namespace {

using simdjson::SUCCESS;
using namespace answer_json;

constexpr size_t kMaxInvalidSummary = 1000;  // the validation issues of a refused request

// Issue types of a request the server found invalid (IssueType's "invalid" branch).
bool IsValidationCode(std::string_view code) {
  return code == "invalid" || code == "structure" || code == "required" || code == "value" ||
         code == "invariant";
}

// False for the issues that do not refuse a request: severity warning or information.
bool IsErrorIssue(dom::object issue) {
  std::string_view severity;
  dom::element e;
  if (!Lookup(issue, "severity", e) || e.get_string().get(severity) != SUCCESS) return true;
  return severity != "warning" && severity != "information";
}

// Appends "<expression[0]>: <text>" of one validation issue to `out` ("; " between issues); the
// expression only when the text does not already start with it.
void AppendValidationIssue(std::string& out, dom::object issue) {
  std::string_view where;
  dom::element e;
  dom::array expressions;
  if (Lookup(issue, "expression", e) && e.get_array().get(expressions) == SUCCESS) {
    for (dom::element x : expressions) {
      where = StringOrEmpty(x);
      break;
    }
  }
  const std::string_view text = IssueText(issue);
  if (where.size() > kMaxSummary || text.substr(0, where.size()) == where) where = {};
  if (where.empty() && text.empty()) return;
  if (!out.empty()) out += "; ";
  out += where;
  if (!where.empty() && !text.empty()) out += ": ";
  out += text;
}

}  // namespace

OperationOutcomeInfo ReadOperationOutcome(std::string_view body) {
  OperationOutcomeInfo out;
  dom::parser parser;
  auto root = ParseObject(parser, body, "operation outcome");
  if (!root) return out;
  const auto issues = OutcomeIssues(*root);
  if (!issues) return out;

  // Explicit codes beat text heuristics where they disagree: a transient code is always retried
  // (a text like "multiple retries" must not make it terminal); a validation code says the
  // request was refused, whatever its text ("Consent.provision.actor: ..." is no consent
  // refusal); "consent" in any text beats a not-found code (HRex answers 422 for both, only the
  // text tells them apart).
  bool transient = false, invalid = false, consent = false, no_match = false;
  bool first = true;
  std::string invalid_text;
  for (dom::object issue : *issues) {
    const std::string_view code = IssueCode(issue);
    if (first) {
      first = false;
      out.code = std::string(code);
      out.summary = CutUtf8(IssueText(issue), kMaxSummary);
    }
    if (code == "transient" || code == "throttled" || code == "timeout") transient = true;
    if (IsValidationCode(code) && IsErrorIssue(issue)) {
      invalid = true;
      if (invalid_text.size() < kMaxInvalidSummary) AppendValidationIssue(invalid_text, issue);
    }
    if (code == "not-found" || code == "multiple-matches") no_match = true;
    std::string_view texts[2];
    IssueTexts(issue, texts[0], texts[1]);
    for (std::string_view t : texts) {
      if (FindNoCase(t, "consent") != std::string_view::npos) consent = true;
      if (FindNoCase(t, "no match") != std::string_view::npos ||
          FindNoCase(t, "not found") != std::string_view::npos ||
          FindNoCase(t, "multiple") != std::string_view::npos) {
        no_match = true;
      }
    }
  }
  if (transient) {
    out.cls = OutcomeClass::kTransient;
  } else if (invalid) {
    out.cls = OutcomeClass::kRequestInvalid;
    out.summary = CutUtf8(invalid_text, kMaxInvalidSummary);
  } else if (consent) {
    out.cls = OutcomeClass::kConsentRefused;
  } else if (no_match) {
    out.cls = OutcomeClass::kNoMatch;
  } else {
    out.cls = OutcomeClass::kOther;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// error[] file lines

Result<std::vector<OutcomeIssue>> ReadOutcomeLine(std::string_view line) {
  constexpr std::string_view kCtx = "error file line";
  constexpr size_t kMaxDiagnostics = 1000;
  constexpr size_t kMaxIssueCode = 64;
  dom::parser parser;
  auto root = ParseObject(parser, line, kCtx);
  if (!root) return std::move(root).error();
  const auto issues = OutcomeIssues(*root);
  if (!issues) return Protocol(kCtx, "", "not an OperationOutcome");
  std::vector<OutcomeIssue> out;
  for (dom::object issue : *issues) {
    OutcomeIssue o;
    dom::element e;
    std::string_view severity;
    if (Lookup(issue, "severity", e) && e.get_string().get(severity) == SUCCESS &&
        (severity == "fatal" || severity == "error" || severity == "warning" ||
         severity == "information")) {
      o.severity = std::string(severity);
    }
    const std::string_view code = IssueCode(issue);
    o.code = !code.empty() && code.size() <= kMaxIssueCode && IsUrlText(code) ? std::string(code)
                                                                              : "unknown";
    o.diagnostics = CutUtf8(IssueText(issue), kMaxDiagnostics);
    out.push_back(std::move(o));
  }
  if (out.empty()) out.push_back(OutcomeIssue{"", "unknown", ""});
  return out;
}

}  // namespace p2p::fhir
