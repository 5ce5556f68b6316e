// Read-only operator commands: status, members list, members show (see operator_cli.h).
#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <map>

#include "core/duration.h"
#include "core/url.h"
#include "operator_cli.h"
#include "operator_commands.h"
#include "state/lifecycle_db.h"
#include "state/sql.h"

namespace p2p::daemon {

namespace {

constexpr int64_t kNearWindowS = 24 * 3600;  // same window as the status endpoint
constexpr int kMaxErrorClasses = 10;
constexpr int kMaxBadLinesShown = 10;

std::string Name(int64_t state) {
  if (state < 0 || state >= kJobStateCount) return "state " + std::to_string(state);
  return std::string(JobStateName(static_cast<JobState>(state)));
}

// Prints rows as columns padded to the widest cell; the first row is the header.
void PrintTable(std::FILE* out, const std::vector<std::vector<std::string>>& rows,
                const char* indent) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  for (const auto& r : rows) {
    std::string line = indent;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line.append(width[c] - r[c].size() + 2, ' ');
    }
    std::fprintf(out, "%s\n", line.c_str());
  }
}

}  // namespace

int CmdStatus(const Options& options, state::StateDb& db, const OperatorIo& io) {
  auto by_state = db.CountByState();
  if (!by_state) return DbFailed(io, by_state.error());
  auto by_payer = db.CountByPayerState();
  if (!by_payer) return DbFailed(io, by_payer.error());
  const int64_t now_s = io.now_ms / 1000;
  auto past = db.CountDeadlineBefore(now_s, false);
  if (!past) return DbFailed(io, past.error());
  auto due = db.CountDeadlineBefore(now_s + kNearWindowS, false);
  if (!due) return DbFailed(io, due.error());
  auto late = db.CountDeadlineBefore(std::numeric_limits<int64_t>::max(), true);
  if (!late) return DbFailed(io, late.error());
  auto bad = db.BadLineCount();
  if (!bad) return DbFailed(io, bad.error());

  int64_t total = 0, active = 0;
  for (int s = 0; s < kJobStateCount; ++s) {
    total += (*by_state)[static_cast<size_t>(s)];
    if (!IsTerminal(static_cast<JobState>(s))) active += (*by_state)[static_cast<size_t>(s)];
  }
  std::fprintf(io.out, "state DB %s at %s\n", StateLocation(options.state).c_str(),
               FormatTimeMs(io.now_ms).c_str());
  std::fprintf(io.out, "members: %lld jobs, %lld in progress\n\n", static_cast<long long>(total),
               static_cast<long long>(active));

  std::vector<std::vector<std::string>> rows = {{"STATE", "JOBS"}};
  for (int s = 0; s < kJobStateCount; ++s) {
    rows.push_back({Name(s), std::to_string((*by_state)[static_cast<size_t>(s)])});
  }
  std::fprintf(io.out, "members by state\n");
  PrintTable(io.out, rows, "  ");

  // Per payer: in-progress states summed, terminal states one column each.
  std::map<std::string, std::array<int64_t, 6>> payers;  // active, complete, no_match, consent,
                                                         // failed, cancelled
  for (const auto& p : options.payers) payers[p.id];
  for (const auto& c : *by_payer) {
    auto& v = payers[c.payer];
    switch (c.state) {
      case JobState::kComplete: v[1] += c.count; break;
      case JobState::kNoMatch: v[2] += c.count; break;
      case JobState::kConsentRefused:
      case JobState::kConsentExpired: v[3] += c.count; break;
      case JobState::kFailed: v[4] += c.count; break;
      case JobState::kCancelled: v[5] += c.count; break;
      default: v[0] += c.count; break;
    }
  }
  rows = {{"PAYER", "IN_PROGRESS", "COMPLETE", "NO_MATCH", "CONSENT", "FAILED", "CANCELLED"}};
  for (const auto& [payer, v] : payers) {
    std::vector<std::string> r = {payer};
    for (int64_t n : v) r.push_back(std::to_string(n));
    rows.push_back(std::move(r));
  }
  std::fprintf(io.out, "\nper payer (CONSENT: consent_refused + consent_expired)\n");
  PrintTable(io.out, rows, "  ");

  std::fprintf(io.out, "\ndeadlines (members in progress, $member-match not yet sent)\n");
  rows = {{"past the deadline", std::to_string(*past)},
          {"due within 24h", std::to_string(std::max<int64_t>(0, *due - *past))},
          {"requested after the deadline (all time)", std::to_string(*late)}};
  PrintTable(io.out, rows, "  ");

  // Deadlines per payer: on time / late / at risk (state DB counts kept by triggers).
  const int64_t at_risk_s =
      std::chrono::duration_cast<std::chrono::seconds>(options.deadline.at_risk_within).count();
  auto deadlines = db.DeadlineReport(now_s, at_risk_s);
  if (!deadlines) return DbFailed(io, deadlines.error());
  std::fprintf(io.out, "\nCMS-0057-F deadlines per payer (AT_RISK: not yet requested, due within %s)\n",
               FormatDuration(options.deadline.at_risk_within).c_str());
  if (deadlines->empty()) {
    std::fprintf(io.out, "  (none)\n");
  } else {
    rows = {{"PAYER", "ON_TIME", "LATE", "AT_RISK"}};
    for (const auto& d : *deadlines) {
      rows.push_back({d.payer, std::to_string(d.on_time), std::to_string(d.late),
                      std::to_string(d.at_risk)});
    }
    PrintTable(io.out, rows, "  ");
  }

  auto st = state::Stmt::Prepare(
      db.handle(),
      "SELECT error_class, COUNT(*), MAX(at_ms) FROM events WHERE error_class IS NOT NULL "
      "GROUP BY error_class ORDER BY MAX(at_ms) DESC LIMIT ?1");
  if (!st) return DbFailed(io, st.error());
  st->Bind(1, static_cast<int64_t>(kMaxErrorClasses));
  rows = {{"CLASS", "EVENTS", "LAST"}};
  for (;;) {
    auto row = st->Step("status: errors by class");
    if (!row) return DbFailed(io, row.error());
    if (!*row) break;
    rows.push_back({st->Text(0), std::to_string(st->Int(1)), FormatTimeMs(st->Int(2))});
  }
  std::fprintf(io.out, "\nlast errors by class\n");
  if (rows.size() == 1) {
    std::fprintf(io.out, "  (none)\n");
  } else {
    PrintTable(io.out, rows, "  ");
  }
  std::fprintf(io.out, "\nbad lines in downloaded files: %lld\n", static_cast<long long>(*bad));
  return kOpExitOk;
}

int CmdMembersList(const OperatorArgs& a, state::StateDb& db, const OperatorIo& io) {
  // Placeholders numbered as they are used: PostgreSQL must know the type of every one.
  std::string sql =
      "SELECT member_key, payer, state, attempts, updated_ms, COALESCE(error_class,'') "
      "FROM members WHERE 1=1";
  int n = 0;
  const int state_at = a.state.empty() ? 0 : ++n;
  const int payer_at = a.payer.empty() ? 0 : ++n;
  const int limit_at = ++n;
  if (state_at != 0) sql += " AND state=?" + std::to_string(state_at);
  if (payer_at != 0) sql += " AND payer=?" + std::to_string(payer_at);
  sql += " ORDER BY id LIMIT ?" + std::to_string(limit_at);
  auto st = state::Stmt::Prepare(db.handle(), sql);
  if (!st) return DbFailed(io, st.error());
  if (state_at != 0) st->Bind(state_at, static_cast<int64_t>(*ParseJobState(a.state)));
  if (payer_at != 0) st->Bind(payer_at, a.payer);
  st->Bind(limit_at, a.limit);
  std::vector<std::vector<std::string>> rows = {
      {"MEMBER_KEY", "PAYER", "STATE", "ATTEMPTS", "UPDATED", "ERROR_CLASS"}};
  for (;;) {
    auto row = st->Step("members list");
    if (!row) return DbFailed(io, row.error());
    if (!*row) break;
    rows.push_back({st->Text(0), st->Text(1), Name(st->Int(2)), std::to_string(st->Int(3)),
                    FormatTimeMs(st->Int(4)), st->Text(5).empty() ? "-" : st->Text(5)});
  }
  if (rows.size() == 1) {
    std::fprintf(io.out, "no members\n");
    return kOpExitOk;
  }
  PrintTable(io.out, rows, "");
  if (static_cast<int64_t>(rows.size() - 1) == a.limit) {
    std::fprintf(io.err, "(first %lld shown; --limit N for more)\n",
                 static_cast<long long>(a.limit));
  }
  return kOpExitOk;
}

namespace {

// One job's full story. REQUIRES: `job` loaded from `db`.
Result<void> ShowJob(state::StateDb& db, const state::Job& job, bool show_phi,
                     const OperatorIo& io) {
  auto extra = state::Stmt::Prepare(
      db.handle(),
      "SELECT updated_ms, COALESCE(source_file,''), COALESCE(source_line,0) FROM members "
      "WHERE id=?1");
  if (!extra) return std::move(extra).error();
  extra->Bind(1, job.id);
  auto row = extra->Step("members show");
  if (!row) return std::move(row).error();
  std::FILE* out = io.out;
  std::fprintf(out, "job %lld: member %s, payer %s\n", static_cast<long long>(job.id),
               job.member_key.c_str(), job.payer.c_str());
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"state", Name(static_cast<int64_t>(job.state))});
  rows.push_back({"source", extra->Text(1) + ":" + std::to_string(extra->Int(2))});
  rows.push_back({"created", FormatTimeMs(job.created_ms)});
  rows.push_back({"updated", FormatTimeMs(extra->Int(0))});
  std::string deadline = FormatTimeMs(job.deadline * 1000);
  if (job.requested_ms == 0 && !IsTerminal(job.state)) {
    deadline += job.deadline * 1000 < io.now_ms
                    ? " (past by " + FormatDurationMs(io.now_ms - job.deadline * 1000) + ")"
                    : " (in " + FormatDurationMs(job.deadline * 1000 - io.now_ms) + ")";
  }
  rows.push_back({"deadline", deadline});
  rows.push_back({"requested", FormatTimeMs(job.requested_ms)});
  rows.push_back({"completed", FormatTimeMs(job.completed_ms)});
  if (!IsTerminal(job.state) && job.next_ms > 0) {
    rows.push_back({"next step", FormatTimeMs(job.next_ms)});
  }
  rows.push_back({"attempts", std::to_string(job.attempts) + " (polls " +
                                  std::to_string(job.polls) + ", re-kicks " +
                                  std::to_string(job.rekicks) + ")"});
  // Each cause against its own budget (export.max_rekicks, export.max_expired_rekicks).
  rows.push_back({"re-kicks", std::to_string(job.failed_rekicks()) + " for failed exports, " +
                                  std::to_string(job.expired_rekicks) +
                                  " for gone or expired files"});
  rows.push_back({"group id", job.group_id.empty() ? "-" : job.group_id});
  if (show_phi && !job.member_identifier.empty()) {
    rows.push_back({"member identifier (PHI)", job.member_identifier});
  }
  std::string poll = "-";
  if (!job.poll_url.empty()) {
    auto url = Url::Parse(job.poll_url);
    poll = url ? std::string(url->Path()) : "(not a URL)";
  }
  rows.push_back({"poll URL path", poll});
  if (!job.error_class.empty()) {
    rows.push_back({"error class", job.error_class});
    if (job.http_status != 0) rows.push_back({"HTTP status", std::to_string(job.http_status)});
    if (!job.error_detail.empty()) rows.push_back({"error detail", job.error_detail});
  }
  PrintTable(out, rows, "  ");

  auto ev = state::Stmt::Prepare(db.handle(),
                                 "SELECT at_ms, from_state, to_state, COALESCE(error_class,'') "
                                 "FROM events WHERE job_id=?1 ORDER BY id");
  if (!ev) return std::move(ev).error();
  ev->Bind(1, job.id);
  rows = {{"AT", "TRANSITION", "AFTER", "ERROR_CLASS"}};
  int64_t since = job.created_ms;
  for (;;) {
    auto r = ev->Step("members show: events");
    if (!r) return std::move(r).error();
    if (!*r) break;
    const int64_t at = ev->Int(0);
    rows.push_back({FormatTimeMs(at), Name(ev->Int(1)) + " -> " + Name(ev->Int(2)),
                    FormatDurationMs(at - since), ev->Text(3).empty() ? "-" : ev->Text(3)});
    since = at;
  }
  std::fprintf(out, "  transitions (AFTER: time spent in the earlier state)\n");
  if (rows.size() == 1) {
    std::fprintf(out, "    (none)\n");
  } else {
    PrintTable(out, rows, "    ");
  }

  auto files = db.LoadFiles(job.id);
  if (!files) return std::move(files).error();
  static constexpr const char* kKind[] = {"output", "error", "deleted"};
  static constexpr const char* kFileState[] = {"pending", "done", "failed"};
  rows = {{"#", "KIND", "TYPE", "STATE", "LINES", "STORED", "BAD", "BYTES", "ATTEMPTS"}};
  for (const auto& f : *files) {
    rows.push_back({std::to_string(f.idx), kKind[static_cast<int>(f.kind) % 3], f.type,
                    kFileState[static_cast<int>(f.state) % 3], std::to_string(f.lines),
                    std::to_string(f.stored), std::to_string(f.bad_lines),
                    std::to_string(f.bytes), std::to_string(f.attempts)});
  }
  std::fprintf(out, "  files\n");
  if (rows.size() == 1) {
    std::fprintf(out, "    (none)\n");
  } else {
    PrintTable(out, rows, "    ");
  }

  // Export error[] file issues as counts by severity and code (their text may hold PHI).
  auto issues = db.ExportIssueCounts(job.id);
  if (!issues) return std::move(issues).error();
  if (!issues->empty()) {
    rows = {{"SEVERITY", "CODE", "COUNT"}};
    for (const state::ExportIssueCount& c : *issues) {
      rows.push_back({c.severity.empty() ? "-" : c.severity, c.code, std::to_string(c.count)});
    }
    std::fprintf(out, "  export errors (error files)\n");
    PrintTable(out, rows, "    ");
  }

  auto bad = state::Stmt::Prepare(db.handle(),
                                  "SELECT file_idx, line_no, reason FROM bad_lines WHERE job_id=?1 "
                                  "ORDER BY file_idx, line_no LIMIT ?2");
  if (!bad) return std::move(bad).error();
  bad->Bind(1, job.id).Bind(2, static_cast<int64_t>(kMaxBadLinesShown));
  bool any_bad = false;
  for (;;) {
    auto r = bad->Step("members show: bad lines");
    if (!r) return std::move(r).error();
    if (!*r) break;
    if (!any_bad) std::fprintf(out, "  bad lines (first %d)\n", kMaxBadLinesShown);
    any_bad = true;
    std::fprintf(out, "    file #%lld line %lld: %s\n", static_cast<long long>(bad->Int(0)),
                 static_cast<long long>(bad->Int(1)), bad->Text(2).c_str());
  }
  if (show_phi) std::fprintf(out, "  source row (PHI): %s\n", job.row_json.c_str());
  return Ok();
}

}  // namespace

int CmdMembersShow(const OperatorArgs& a, state::StateDb& db, const OperatorIo& io) {
  auto st = state::Stmt::Prepare(
      db.handle(), a.payer.empty() ? "SELECT id FROM members WHERE member_key=?1 ORDER BY id"
                                   : "SELECT id FROM members WHERE member_key=?1 AND payer=?2 "
                                     "ORDER BY id");
  if (!st) return DbFailed(io, st.error());
  st->Bind(1, a.target);
  if (!a.payer.empty()) st->Bind(2, a.payer);
  std::vector<int64_t> ids;
  for (;;) {
    auto row = st->Step("members show");
    if (!row) return DbFailed(io, row.error());
    if (!*row) break;
    ids.push_back(st->Int(0));
  }
  if (ids.empty()) {
    const std::string payer = a.payer.empty() ? "" : " and payer " + a.payer;
    std::fprintf(io.err, "no job for member %s%s\n", a.target.c_str(), payer.c_str());
    return kOpExitNoMember;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    auto job = db.LoadJob(ids[i]);
    if (!job) return DbFailed(io, job.error());
    if (i > 0) std::fprintf(io.out, "\n");
    if (auto r = ShowJob(db, *job, a.show_phi, io); !r) return DbFailed(io, r.error());
    // Member lifecycle: refreshes, revocation and purge (state/lifecycle_db.h).
    if (i + 1 == ids.size()) {  // after the member's latest job
      auto lc = state::LoadLifecycle(db, job->payer, job->member_key);
      if (!lc) return DbFailed(io, lc.error());
      if (*lc) {
        const state::LifecycleRow& l = **lc;
        std::fprintf(io.out, "lifecycle: %s, %lld refreshes, next refresh %s\n",
                     l.concurrent ? "concurrent coverage" : "one-off",
                     static_cast<long long>(l.refreshes),
                     l.refresh_due_ms ? FormatTimeMs(*l.refresh_due_ms).c_str() : "none");
        if (l.revoked_ms) {
          std::fprintf(io.out, "consent revoked: %s\n", FormatTimeMs(*l.revoked_ms).c_str());
        }
        if (l.purged_ms) {
          std::fprintf(io.out, "purged: %lld resources at %s\n",
                       static_cast<long long>(l.purged_count), FormatTimeMs(*l.purged_ms).c_str());
        } else if (l.purge_requested) {
          std::fprintf(io.out, "purged: pending (the daemon purges)\n");
        }
      }
    }
  }
  return kOpExitOk;
}

}  // namespace p2p::daemon
