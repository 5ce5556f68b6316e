// StatusQueries: the state-DB reads behind the status endpoint (StatusServer): one StatusSnapshot
// with the members by state and payer, the SLA counts of members not yet requested, the
// CMS-0057-F deadline counts and the latest error classes. No PHI is read: counts, payer ids,
// job states and error classes only.
//
// Cost: every query uses the schema's indexes or trigger-kept counts (member_counts,
// members_runnable, events_error; see Sql()), so a read costs the same with a million members as
// with ten. The SLA counts of one payer stop at settings.sla_count_cap (snapshot "capped").
//
// Ownership: `db` is borrowed (REQUIRES: it outlives this object, or Finalize() is called before it
// closes); the prepared statements are owned. Threading: one thread (the status server's).
// Errors: Prepare() returns the SQLite error of a query that does not prepare; Read() the SQLite
// error of the step that failed (no partial snapshot).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "state/sql.h"
#include "status/status_server.h"

namespace p2p {

class StatusQueries {
 public:
  explicit StatusQueries(state::StateDb& db) : db_(db) {}
  StatusQueries(const StatusQueries&) = delete;
  StatusQueries& operator=(const StatusQueries&) = delete;

  // Prepares every query (again after Finalize()).
  Result<void> Prepare();
  // Reads one consistent snapshot (in one read transaction, unless the caller has one open) at
  // settings.now_ms(), with its sla_near_s, sla_count_cap, deadline_at_risk_s and error_window_s.
  // REQUIRES: Prepare() succeeded; settings.now_ms is set.
  Result<StatusSnapshot> Read(const StatusServerSettings& settings);
  // Finalizes the prepared statements, so that the DB may close. Idempotent.
  void Finalize();

  // The SQL of every query (for query-plan tests).
  static std::vector<std::string_view> Sql();

 private:
  state::StateDb& db_;
  state::Stmt by_state_, payer_deadline_, next_class_, class_last_, class_window_;
};

}  // namespace p2p
