// Decoding member source files (CSV and NDJSON) into validated rows. Pure functions (no I/O):
// text in, rows and problems out. See core/member.h for the row and its validation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/member.h"

namespace p2p::source {

struct ParsedMembers {
  std::vector<std::pair<uint64_t, MemberRow>> rows;  // (line, row) of rows that parsed
  std::vector<RowProblem> problems;
};

// Parses a whole CSV file's text (RFC 4180 quoting, header row required, columns in any order,
// unknown columns ignored; required columns missing -> one problem at line 1 and no rows).
// Each row is then validated; rows with problems are left out of `rows`. Invalid UTF-8, lines
// over 64 KiB, wrong field counts are row problems; a later row with the same (member_key,
// prior_payer) as an earlier good row gets "duplicate of line N" (a row with consent_revoked
// true is compared only with other revocations). The optional lifecycle columns (concurrent,
// coverage_end, consent_revoked; core/member.h) may be absent. A problem about the whole file
// ("empty file") has line 0. Pure.
ParsedMembers ParseMemberCsv(std::string_view text, const std::vector<std::string>& known_payers);
// Same for NDJSON: one JSON object per line with the same field names (string values).
ParsedMembers ParseMemberNdjson(std::string_view text, const std::vector<std::string>& known_payers);

}  // namespace p2p::source
