#include "status/status_queries.h"

#include <algorithm>
#include <string>
#include <utility>

#include "core/job_state.h"
#include "state/state_db.h"

namespace p2p {
namespace {

constexpr size_t kMaxErrorClasses = 32;
constexpr size_t kMaxPayers = 1000;
constexpr size_t kMaxClassBytes = 64;

// The server's queries; each uses an index (see the schema in migrations/001_initial.sql and
// 002_member_counts.sql). Counts come from member_counts (a few rows per payer, kept by
// triggers), so they cost the same with a million members as with ten.
// One pass over member_counts in primary-key order (payer, state): the totals by state and, per
// payer, its counts by state (a few rows per payer, kept by triggers).
constexpr std::string_view kByStateSql = "SELECT payer, state, n FROM member_counts";
// Range of the payer's active jobs by deadline; the row lookup for requested_ms is bounded by
// the cap.
constexpr std::string_view kPayerDeadlineSql =
    "SELECT COUNT(*) FROM (SELECT 1 FROM members INDEXED BY members_runnable WHERE payer=?1 AND "
    "state<=5 AND deadline<?2 AND requested_ms IS NULL LIMIT ?3) AS due";
constexpr std::string_view kNextErrorClassSql =
    "SELECT error_class FROM events WHERE error_class>?1 ORDER BY error_class LIMIT 1";
constexpr std::string_view kErrorLastSql = "SELECT MAX(at_ms) FROM events WHERE error_class=?1";
constexpr std::string_view kErrorWindowSql =
    "SELECT COUNT(*) FROM events WHERE error_class=?1 AND at_ms>=?2";

}  // namespace

std::vector<std::string_view> StatusQueries::Sql() {
  return {kByStateSql, kPayerDeadlineSql, kNextErrorClassSql, kErrorLastSql, kErrorWindowSql};
}

Result<void> StatusQueries::Prepare() {
  state::Conn* h = db_.handle();
  struct Prep {
    state::Stmt* stmt;
    std::string_view sql;
  };
  for (const Prep& p : {Prep{&by_state_, kByStateSql}, Prep{&payer_deadline_, kPayerDeadlineSql},
                        Prep{&next_class_, kNextErrorClassSql}, Prep{&class_last_, kErrorLastSql},
                        Prep{&class_window_, kErrorWindowSql}}) {
    auto st = state::Stmt::Prepare(h, p.sql);
    if (!st) return std::move(st).error();
    *p.stmt = std::move(st).value();
  }
  return Ok();
}

void StatusQueries::Finalize() {
  for (state::Stmt* st :
       {&by_state_, &payer_deadline_, &next_class_, &class_last_, &class_window_}) {
    *st = state::Stmt();
  }
}

Result<StatusSnapshot> StatusQueries::Read(const StatusServerSettings& settings) {
  StatusSnapshot snap;
  snap.now_ms = settings.now_ms();
  snap.by_state.assign(kJobStateCount, 0);
  const int64_t now_s = snap.now_ms / 1000;

  // One read transaction so the numbers agree with each other.
  state::ReadSnapshot snapshot(db_.handle());
  if (auto r = snapshot.Begin(); !r) return std::move(r).error().Context("status");

  for (;;) {
    auto row = by_state_.Step("status: count by state");
    if (!row) {
      by_state_.Reset();
      return std::move(row).error();
    }
    if (!*row) break;
    const int64_t s = by_state_.Int(1);
    const int64_t n = by_state_.Int(2);
    if (s < 0 || s >= kJobStateCount || n <= 0) continue;
    snap.by_state[static_cast<size_t>(s)] += n;
    std::string payer = by_state_.Text(0);
    if (snap.payers.empty() || snap.payers.back().payer != payer) {
      if (snap.payers.size() >= kMaxPayers) continue;
      StatusSnapshot::Payer p;
      p.payer = std::move(payer);
      p.by_state.assign(kJobStateCount, 0);
      snap.payers.push_back(std::move(p));
    }
    StatusSnapshot::Payer& p = snap.payers.back();
    p.by_state[static_cast<size_t>(s)] += n;
    if (!IsTerminal(static_cast<JobState>(s))) p.active += n;
  }
  by_state_.Reset();

  auto count = [](state::Stmt& st, std::string_view what) -> Result<int64_t> {
    auto row = st.Step(what);
    const int64_t n = row && *row ? st.Int(0) : 0;
    st.Reset();
    if (!row) return std::move(row).error();
    return n;
  };

  // Deadlines only for payers with active jobs: an indexed range bounded by the cap.
  for (StatusSnapshot::Payer& p : snap.payers) {
    if (p.active == 0) continue;
    payer_deadline_.Bind(1, p.payer).Bind(2, now_s).Bind(3, settings.sla_count_cap);
    auto past = count(payer_deadline_, "status: deadline past");
    if (!past) return std::move(past).error();
    payer_deadline_.Bind(1, p.payer)
        .Bind(2, now_s + settings.sla_near_s)
        .Bind(3, settings.sla_count_cap);
    auto due = count(payer_deadline_, "status: deadline near");
    if (!due) return std::move(due).error();
    if (*past >= settings.sla_count_cap || *due >= settings.sla_count_cap) snap.capped = true;
    p.deadline_past = *past;
    p.deadline_near = std::max<int64_t>(0, *due - *past);
  }

  // CMS-0057-F deadlines per payer, from counts kept by triggers (inside this read transaction).
  auto deadlines = db_.DeadlineReport(now_s, settings.deadline_at_risk_s);
  if (!deadlines) return std::move(deadlines).error();
  snap.deadlines.reserve(std::min(deadlines->size(), kMaxPayers));
  for (auto& d : *deadlines) {
    if (snap.deadlines.size() >= kMaxPayers) break;
    snap.deadlines.push_back({std::move(d.payer), d.on_time, d.late, d.at_risk});
  }

  if (db_.clustered()) {
    snap.cluster.on = true;
    snap.cluster.instance = db_.instance_token();
    snap.cluster.leases = db_.leases_held();
    auto live = db_.LiveInstances(snap.now_ms);
    if (!live) return std::move(live).error();
    snap.cluster.instances = *live;
  }

  std::string prev;
  while (snap.errors.size() < kMaxErrorClasses) {
    next_class_.Bind(1, prev);
    auto row = next_class_.Step("status: next error class");
    if (row && *row) prev = next_class_.Text(0);
    next_class_.Reset();
    if (!row) return std::move(row).error();
    if (!*row) break;
    StatusSnapshot::ErrorClass e;
    e.error_class = prev.substr(0, kMaxClassBytes);
    class_last_.Bind(1, prev);
    auto last = count(class_last_, "status: error last");
    if (!last) return std::move(last).error();
    e.last_at_ms = *last;
    class_window_.Bind(1, prev).Bind(2, snap.now_ms - settings.error_window_s * 1000);
    auto window = count(class_window_, "status: error window");
    if (!window) return std::move(window).error();
    e.count_window = *window;
    snap.errors.push_back(std::move(e));
  }
  std::stable_sort(snap.errors.begin(), snap.errors.end(),
                   [](const auto& a, const auto& b) { return a.last_at_ms > b.last_at_ms; });
  return snap;
}

}  // namespace p2p
