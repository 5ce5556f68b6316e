// What the job state's kept counts say, and the same recounted from the members rows, for the
// state tests of either backend (SQL both SQLite and PostgreSQL accept). Header only: the test
// binaries that include it link p2p_state. gtest EXPECTs report a query that fails.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "state/sql.h"
#include "state/state_db.h"

namespace p2p::testing {

// (payer, state, n) rows, ordered by payer then state.
using CountRows = std::vector<std::tuple<std::string, int, int64_t>>;

// What StateDb::CountByPayerState says (the counts kept by triggers).
inline CountRows Counted(state::StateDb& db) {
  CountRows out;
  auto counts = db.CountByPayerState();
  EXPECT_TRUE(counts) << counts.error().message;
  if (!counts) return out;
  for (const auto& c : *counts) out.emplace_back(c.payer, static_cast<int>(c.state), c.count);
  return out;
}

// The same from a GROUP BY over the members rows.
inline CountRows GroupBy(state::StateDb& db) {
  CountRows out;
  auto q = state::Stmt::Prepare(db.handle(),
                                "SELECT payer, state, COUNT(*) FROM members GROUP BY payer, state "
                                "ORDER BY payer, state");
  EXPECT_TRUE(q);
  if (!q) return out;
  while (*q->Step("group by")) out.emplace_back(q->Text(0), static_cast<int>(q->Int(1)), q->Int(2));
  return out;
}

// StateDb::DeadlineReport(now_s, window_s) recomputed from the members rows.
inline std::vector<state::DeadlineCounts> RecountDeadlines(state::StateDb& db, int64_t now_s,
                                                           int64_t window_s) {
  auto st = state::Stmt::Prepare(
      db.handle(),
      "SELECT payer, "
      "SUM(CASE WHEN requested_ms IS NOT NULL AND requested_ms/1000 <= deadline THEN 1 ELSE 0 "
      "END), SUM(CASE WHEN (requested_ms IS NOT NULL AND requested_ms/1000 > deadline) OR "
      "(requested_ms IS NULL AND state <= 5 AND deadline < ?1) THEN 1 ELSE 0 END), "
      "SUM(CASE WHEN requested_ms IS NULL AND state <= 5 AND deadline >= ?1 AND "
      "deadline < ?1 + ?2 THEN 1 ELSE 0 END) FROM members GROUP BY payer ORDER BY payer");
  EXPECT_TRUE(st) << st.error().message;
  std::vector<state::DeadlineCounts> out;
  if (!st) return out;
  st->Bind(1, now_s).Bind(2, window_s);
  for (;;) {
    auto row = st->Step("recount");
    EXPECT_TRUE(row) << row.error().message;
    if (!row || !*row) break;
    state::DeadlineCounts c{st->Text(0), st->Int(1), st->Int(2), st->Int(3)};
    if (c.on_time + c.late + c.at_risk > 0) out.push_back(c);
  }
  return out;
}

}  // namespace p2p::testing
