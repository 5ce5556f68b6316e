// A member row as kept in the state DB (members.row_json): encode at intake, decode when the
// job builds its $member-match request. PHI: never logged.
#pragma once

#include <string>
#include <string_view>

#include "core/member.h"
#include "core/result.h"

namespace p2p::pipeline {

std::string EncodeMemberRow(const MemberRow& row);
Result<MemberRow> DecodeMemberRow(std::string_view json);

}  // namespace p2p::pipeline
