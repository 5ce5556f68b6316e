// StateDb's deadline report: on-time / late / at-risk members per payer, read from the
// counts that migrations/007_deadlines.sql's triggers keep.
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "state/sql.h"
#include "state/state_db.h"

namespace p2p::state {

namespace {

// Requested members by payer and lateness: a few rows per payer, in primary-key order.
constexpr std::string_view kRequestedSql =
    "SELECT payer, late, n FROM deadline_requested WHERE n > 0 ORDER BY payer, late";
// Waiting members (active, not yet requested) whose deadline is before now + window (?2), summed
// per payer into past the deadline (< now, ?1) and at risk (>= now). One row per payer and day
// with waiting members is read, in primary-key order (no sort).
constexpr std::string_view kWaitingSql =
    "SELECT payer, SUM(CASE WHEN deadline < ?1 THEN n ELSE 0 END), "
    "SUM(CASE WHEN deadline >= ?1 THEN n ELSE 0 END) "
    "FROM deadline_unrequested WHERE deadline < ?2 GROUP BY payer ORDER BY payer";

// The entry for `payer` in `out` (ordered by payer): the last one, or a new one after it.
// Both queries return payers in order, so the merge never searches.
DeadlineCounts& EntryFor(std::vector<DeadlineCounts>* out, size_t* cursor, const std::string& payer) {
  while (*cursor < out->size() && (*out)[*cursor].payer < payer) ++*cursor;
  if (*cursor < out->size() && (*out)[*cursor].payer == payer) return (*out)[*cursor];
  DeadlineCounts c;
  c.payer = payer;
  return *out->insert(out->begin() + static_cast<std::ptrdiff_t>(*cursor), std::move(c));
}

}  // namespace

std::vector<std::string_view> StateDb::DeadlineQueries() { return {kRequestedSql, kWaitingSql}; }

Result<std::vector<DeadlineCounts>> StateDb::DeadlineReport(int64_t now_s,
                                                            int64_t at_risk_within_s) {
  std::vector<DeadlineCounts> out;
  // One read transaction so both counts describe the same moment (the caller's, if it has one:
  // the status server reads all its numbers in one).
  ReadSnapshot snapshot(db_);
  if (auto r = snapshot.Begin(); !r) return std::move(r).error().Context("deadline report");

  auto requested = Stmt::Prepare(db_, kRequestedSql);
  if (!requested) return std::move(requested).error();
  for (;;) {
    auto row = requested->Step("deadline report: requested");
    if (!row) return std::move(row).error();
    if (!*row) break;
    DeadlineCounts c;
    c.payer = requested->Text(0);
    if (!out.empty() && out.back().payer == c.payer) {
      (requested->Int(1) != 0 ? out.back().late : out.back().on_time) += requested->Int(2);
      continue;
    }
    (requested->Int(1) != 0 ? c.late : c.on_time) = requested->Int(2);
    out.push_back(std::move(c));
  }

  auto waiting = Stmt::Prepare(db_, kWaitingSql);
  if (!waiting) return std::move(waiting).error();
  const int64_t horizon =
      at_risk_within_s > INT64_MAX - now_s ? INT64_MAX : now_s + at_risk_within_s;
  waiting->Bind(1, now_s).Bind(2, horizon);
  size_t cursor = 0;
  for (;;) {
    auto row = waiting->Step("deadline report: waiting");
    if (!row) return std::move(row).error();
    if (!*row) break;
    const int64_t past = waiting->Int(1);
    const int64_t at_risk = waiting->Int(2);
    if (past == 0 && at_risk == 0) continue;
    DeadlineCounts& c = EntryFor(&out, &cursor, waiting->Text(0));
    c.late += past;
    c.at_risk += at_risk;
  }
  return out;
}

}  // namespace p2p::state
