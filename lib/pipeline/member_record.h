// A member row as kept in the state DB (members.row_json): encode at intake, decode when the
// job builds its $member-match request; and the payers its Consent names. PHI: never logged.
#pragma once

#include <string>
#include <string_view>

#include "config/options.h"
#include "core/consent.h"
#include "core/member.h"
#include "core/result.h"

namespace p2p::pipeline {

std::string EncodeMemberRow(const MemberRow& row);
Result<MemberRow> DecodeMemberRow(std::string_view json);

// The payers named in the Consent of a member of `payer`: the prior payer (payers[].identifier,
// payers[].name) discloses, our plan `self` receives.
ConsentParties ConsentPartiesOf(const PayerOptions& payer, const ConsentParty& self);

// error_class of a job whose $member-match / $bulk-member-match the payer refused as invalid
// (400 / 422 with a validation OperationOutcome, fhir::OutcomeClass::kRequestInvalid): nothing is
// known about the member, so the job fails instead of ending no_match / consent_refused.
inline constexpr std::string_view kRequestInvalid = "request_invalid";

// Its error_detail: `step` ("$member-match"), the status, the server's validation text and what
// an operator can do, which depends on whether the Consent named both payers
// (`parties_complete`). Holds server text, which may quote member data: state DB only, never
// logged.
std::string RequestInvalidDetail(std::string_view step, int http_status,
                                 std::string_view server_text, bool parties_complete);

}  // namespace p2p::pipeline
