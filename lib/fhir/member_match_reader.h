// Reader of a $member-match answer (DESIGN.md "Tolerant parsing"): the matched member's Group id
// and / or HRex MemberIdentifier, from the shapes payers answer with. A pure function over the
// bytes, via simdjson's error-code API; every string read is length-limited; a wrong shape is
// kProtocol, non-JSON kParse. Error messages never quote the body (it may carry PHI).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace p2p::fhir {

struct MemberMatchResult {
  std::string group_id;           // "" when the answer gives none
  std::string member_identifier;  // HRex MemberIdentifier value, "" when absent
};
// 200 answer of $member-match: Group id from a valueReference "Group/<id>", a parameter named
// "groupId" (valueString / valueId), or a Group resource among the parameters. kProtocol when
// neither a valid FHIR Group id nor a member identifier is found.
// Also accepted: groupId as valueCode, absolute references ".../Group/<id>[/_history/n]", a bare
// Group resource or a plain {"groupId": "..."} as the whole answer, and "MemberId" with a
// valueIdentifier (a MemberId valueReference to a Patient, as in HRex STU 1.1, is ignored). The
// first group id found wins; one that is not a FHIR id is kProtocol "group id is not a FHIR id".
Result<MemberMatchResult> ReadMemberMatch(std::string_view body);

}  // namespace p2p::fhir
