// libFuzzer target: the member source files the enrollment system drops into the inbox,
// ParseMemberCsv and ParseMemberNdjson (lib/source/member_file.h). The first byte picks the
// format: odd ('c') CSV, even ('n') NDJSON; the file's text follows. Invariants checked: every row that parsed is valid by
// ValidateMemberRow, names a known payer, sits on a line >= 1 within the file, rows come in
// increasing line order, and no (member_key, prior_payer) pair appears twice.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/member.h"
#include "source/member_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const std::vector<std::string> kPayers = {"bison", "elk"};
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const p2p::source::ParsedMembers parsed = (data[0] & 1)
                                                ? p2p::source::ParseMemberCsv(text, kPayers)
                                                : p2p::source::ParseMemberNdjson(text, kPayers);
  const uint64_t max_line = static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  uint64_t last = 0;
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<p2p::RowProblem> problems;
  for (const auto& [line, row] : parsed.rows) {
    if (line <= last || line > max_line) std::abort();
    last = line;
    if (!p2p::ValidateMemberRow(row, line, kPayers, problems) || !problems.empty()) std::abort();
    if (!seen.emplace(row.member_key, row.prior_payer).second) std::abort();
  }
  for (const p2p::RowProblem& p : parsed.problems) {
    if (p.line > max_line || p.reason.empty()) std::abort();
  }
  return 0;
}
