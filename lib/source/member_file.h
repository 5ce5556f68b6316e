// Decoding member source files (CSV and NDJSON) into validated rows. Pure functions (no I/O):
// text in, rows and problems out. See core/member.h for the row and its validation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/member.h"
#include "core/result.h"

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

// Streaming form of the two parsers, for files too big to hold as rows: the same rules, but each
// good row goes to `row` as it is read and each problem to `problem`; the duplicate check asks
// `first_line(key, line)`: the line of an earlier good row with that key, or `line` itself after
// remembering it (keys are opaque: member_key, prior_payer and a revocation mark). `consumed` is
// how many bytes of `text` are behind the row. A callback's error stops the parse and is
// returned. Pure apart from what the callbacks do.
struct RowVisitor {
  std::function<Result<void>(uint64_t line, MemberRow&& row, size_t consumed)> row;
  std::function<void(RowProblem&& problem)> problem;
  std::function<Result<uint64_t>(const std::string& key, uint64_t line)> first_line;
};
// The visitor the whole-file parsers use: rows and problems into `out`, keys in `first`.
RowVisitor CollectInto(ParsedMembers& out, std::unordered_map<std::string, uint64_t>& first);
Result<void> VisitMemberCsv(std::string_view text, const std::vector<std::string>& known_payers,
                            const RowVisitor& visitor);
Result<void> VisitMemberNdjson(std::string_view text, const std::vector<std::string>& known_payers,
                               const RowVisitor& visitor);

}  // namespace p2p::source
