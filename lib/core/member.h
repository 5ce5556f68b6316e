// A member as the new payer's source gives it (one row), and what we build from it.
// Holds PHI: only the state DB may store it; never log any field but member_key and prior_payer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/consent.h"
#include "core/result.h"

namespace p2p {

struct MemberRow {
  std::string member_key;        // new payer's opaque id, [A-Za-z0-9._-]{1,128}
  std::string prior_payer;       // a payers[].id
  std::string given;             // space-separated given names
  std::string family;
  std::string birth_date;        // YYYY-MM-DD
  std::string gender;            // optional: male|female|other|unknown
  std::string prior_coverage_id; // CoverageToMatch identifier
  std::string new_coverage_id;   // optional: CoverageToLink identifier
  std::string coverage_start;    // YYYY-MM-DD
  std::string opt_in_date;       // YYYY-MM-DD
  std::string consent_start;     // YYYY-MM-DD
  std::string consent_end;       // YYYY-MM-DD
  std::string consent_policy;    // regular | sensitive
  // Optional lifecycle columns; "" means the default.
  std::string concurrent;       // true | false (default false): refreshed every refresh.interval
  std::string coverage_end;     // YYYY-MM-DD (optional): no refresh after this day
  std::string consent_revoked;  // true | false (default false): revokes the member's consent

  bool IsConcurrent() const { return concurrent == "true"; }
  bool IsConsentRevoked() const { return consent_revoked == "true"; }
};

// The fixed column names, in the order the roster writes them.
const std::vector<std::string_view>& MemberColumns();
// The optional lifecycle columns (concurrent, coverage_end, consent_revoked), which a file may
// leave out; not part of MemberColumns() so that older rosters stay valid.
const std::vector<std::string_view>& LifecycleColumns();

struct RowProblem {
  uint64_t line = 0;   // 1-based line in the file
  std::string field;   // column name, or "" for the row as a whole
  std::string reason;  // never quotes the value (PHI)
};

// Validates a row (pure). Appends every problem found to `problems` (with `line`).
// `known_payers` are the configured payer ids. Returns true when the row is good.
bool ValidateMemberRow(const MemberRow& row, uint64_t line,
                       const std::vector<std::string>& known_payers,
                       std::vector<RowProblem>& problems);

// HRex $member-match Parameters built from a row (pure): MemberPatient (name, birthDate,
// gender), CoverageToMatch (identifier value; beneficiary reference to the MemberPatient),
// CoverageToLink when new_coverage_id is set, Consent (core/consent.h: status active, policy uri
// http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular|#sensitive,
// provision permit with period consent_start..consent_end; with both `parties` known also the
// HRex STU 1.1 actors). Local ids and references between them.
std::string BuildMemberMatchBody(const MemberRow& row, const ConsentParties& parties = {});

// Appends `s` to `out` as a JSON string literal (quotes and escapes).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace p2p
