#include "state/lifecycle_db.h"

#include "core/job_state.h"

namespace p2p::state {

namespace {

#define LC_TRY(expr)                                 \
  do {                                               \
    auto lc_try_r = (expr);                          \
    if (!lc_try_r) return std::move(lc_try_r).error(); \
  } while (0)

std::optional<int64_t> OptInt(const Stmt& s, int col) {
  if (s.IsNull(col)) return std::nullopt;
  return s.Int(col);
}

Stmt& BindOpt(Stmt& s, int i, std::optional<int64_t> v) {
  return v ? s.Bind(i, *v) : s.BindNull(i);
}

Result<void> RecordEvent(Conn* db, int64_t job_id, int64_t now_ms, JobState from, JobState to,
                         std::string_view error_class) {
  auto st = Stmt::Prepare(db,
                          "INSERT INTO events(job_id, at_ms, from_state, to_state, error_class) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st) return std::move(st).error();
  return st->Bind(1, job_id)
      .Bind(2, now_ms)
      .Bind(3, static_cast<int64_t>(from))
      .Bind(4, static_cast<int64_t>(to))
      .Bind(5, error_class)
      .Run("record lifecycle event");
}

Result<void> UpsertTombstoneMarks(Conn* db,
                                  const std::vector<std::pair<std::string, int64_t>>& marks) {
  if (marks.empty()) return Ok();
  auto st = Stmt::Prepare(db,
                          "INSERT INTO store_tombstone_marks(type, deleted_end) VALUES (?1, ?2) "
                          "ON CONFLICT(type) DO UPDATE SET deleted_end = excluded.deleted_end");
  if (!st) return std::move(st).error();
  for (const auto& [type, end] : marks) {
    LC_TRY(st->Bind(1, type).Bind(2, end).Run("record tombstone mark"));
  }
  return Ok();
}

}  // namespace

Result<void> RecordLifecycle(StateDb& db, const std::vector<LifecycleIntake>& rows) {
  if (rows.empty()) return Ok();
  Transaction tx(db.handle());
  LC_TRY(tx.Begin());
  LC_TRY(RecordLifecycleInTransaction(db, rows));
  return tx.Commit();
}

Result<void> RecordLifecycleInTransaction(StateDb& db, const std::vector<LifecycleIntake>& rows) {
  if (rows.empty()) return Ok();
  auto st = Stmt::Prepare(
      db.handle(),
      "INSERT INTO member_lifecycle(payer, member_key, concurrent, consent_start, consent_end, "
      "coverage_end) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT(payer, member_key) DO UPDATE SET concurrent = excluded.concurrent, "
      "consent_start = excluded.consent_start, consent_end = excluded.consent_end, "
      "coverage_end = excluded.coverage_end");
  if (!st) return std::move(st).error();
  for (const LifecycleIntake& r : rows) {
    st->Bind(1, r.payer)
        .Bind(2, r.member_key)
        .Bind(3, int64_t{r.concurrent ? 1 : 0})
        .Bind(4, r.consent_start_days)
        .Bind(5, r.consent_end_days);
    BindOpt(*st, 6, r.coverage_end_days);
    LC_TRY(st->Run("record member lifecycle"));
  }
  return Ok();
}

Result<std::optional<LifecycleRow>> LoadLifecycle(StateDb& db, const std::string& payer,
                                                  const std::string& member_key) {
  auto st = Stmt::Prepare(
      db.handle(),
      "SELECT concurrent, consent_start, consent_end, coverage_end, refresh_due_ms, refreshes, "
      "since, revoked_ms, purge_requested, purged_ms, purged_count "
      "FROM member_lifecycle WHERE payer = ?1 AND member_key = ?2");
  if (!st) return std::move(st).error();
  st->Bind(1, payer).Bind(2, member_key);
  auto row = st->Step("load member lifecycle");
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<LifecycleRow>();
  LifecycleRow r;
  r.payer = payer;
  r.member_key = member_key;
  r.concurrent = st->Int(0) != 0;
  r.consent_start_days = st->Int(1);
  r.consent_end_days = OptInt(*st, 2);
  r.coverage_end_days = OptInt(*st, 3);
  r.refresh_due_ms = OptInt(*st, 4);
  r.refreshes = st->Int(5);
  r.since = st->IsNull(6) ? std::string() : st->Text(6);
  r.revoked_ms = OptInt(*st, 7);
  r.purge_requested = st->Int(8) != 0;
  r.purged_ms = OptInt(*st, 9);
  r.purged_count = st->IsNull(10) ? 0 : st->Int(10);
  return std::optional<LifecycleRow>(std::move(r));
}

Result<void> SetRefreshDue(StateDb& db, const std::string& payer, const std::string& member_key,
                           std::optional<int64_t> due_ms) {
  auto st = Stmt::Prepare(db.handle(),
                          "UPDATE member_lifecycle SET refresh_due_ms = ?3, since = NULL "
                          "WHERE payer = ?1 AND member_key = ?2");
  if (!st) return std::move(st).error();
  st->Bind(1, payer).Bind(2, member_key);
  BindOpt(*st, 3, due_ms);
  return st->Run("schedule refresh");
}

Result<std::vector<DueRefresh>> DueRefreshes(StateDb& db, const std::string& payer, int64_t now_ms,
                                             int limit) {
  auto st = Stmt::Prepare(
      db.handle(),
      "SELECT m.id, l.member_key, COALESCE(m.transaction_time, '') "
      "FROM member_lifecycle l JOIN members m "
      // members_active (member_key, payer) WHERE state <= 6, never members_state (all complete
      // jobs): the "<= 6" term lets the partial index serve, "+" keeps members_state out.
      "ON m.member_key = l.member_key AND m.payer = l.payer AND m.state <= 6 AND +m.state = 6 "
      "WHERE l.payer = ?1 AND l.refresh_due_ms IS NOT NULL AND l.refresh_due_ms <= ?2 "
      "ORDER BY l.refresh_due_ms LIMIT ?3");
  if (!st) return std::move(st).error();
  st->Bind(1, payer).Bind(2, now_ms).Bind(3, int64_t{limit});
  std::vector<DueRefresh> out;
  for (;;) {
    auto row = st->Step("due refreshes");
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back(DueRefresh{st->Int(0), st->Text(1), st->Text(2)});
  }
  return out;
}

Result<bool> StartRefresh(StateDb& db, int64_t job_id, const std::string& payer,
                          const std::string& member_key, const std::string& since,
                          int64_t now_ms) {
  Transaction tx(db.handle());
  LC_TRY(tx.Begin());
  auto job = Stmt::Prepare(
      db.handle(),
      "UPDATE members SET state = ?2, updated_ms = ?3, next_ms = 0, attempts = 0, "
      "poll_url = NULL, export_started_ms = NULL, polls = 0, rekicks = 0, expired_rekicks = 0, "
      "error_class = NULL, error_detail = NULL, http_status = NULL WHERE id = ?1 AND state = ?4");
  if (!job) return std::move(job).error();
  LC_TRY(job->Bind(1, job_id)
             .Bind(2, static_cast<int64_t>(JobState::kExporting))
             .Bind(3, now_ms)
             .Bind(4, static_cast<int64_t>(JobState::kComplete))
             .Run("start refresh"));
  if (db.handle()->Changes() != 1) return false;
  for (const char* sql : {"DELETE FROM files WHERE job_id = ?1",
                          "DELETE FROM bad_lines WHERE job_id = ?1"}) {
    auto del = Stmt::Prepare(db.handle(), sql);
    if (!del) return std::move(del).error();
    LC_TRY(del->Bind(1, job_id).Run("start refresh: drop the last export's files"));
  }
  auto lc = Stmt::Prepare(db.handle(),
                          "UPDATE member_lifecycle SET since = ?3, refresh_due_ms = NULL, "
                          "refreshes = refreshes + 1 WHERE payer = ?1 AND member_key = ?2");
  if (!lc) return std::move(lc).error();
  LC_TRY(lc->Bind(1, payer).Bind(2, member_key).Bind(3, since).Run("start refresh"));
  LC_TRY(RecordEvent(db.handle(), job_id, now_ms, JobState::kComplete, JobState::kExporting, ""));
  LC_TRY(tx.Commit());
  return true;
}

Result<std::string> RefreshSince(StateDb& db, const std::string& payer,
                                 const std::string& member_key) {
  auto st = Stmt::Prepare(db.handle(),
                          "SELECT COALESCE(since, '') FROM member_lifecycle "
                          "WHERE payer = ?1 AND member_key = ?2");
  if (!st) return std::move(st).error();
  st->Bind(1, payer).Bind(2, member_key);
  auto row = st->Step("refresh since");
  if (!row) return std::move(row).error();
  return *row ? st->Text(0) : std::string();
}

Result<Revocation> RecordRevocation(StateDb& db, const std::string& payer,
                                    const std::string& member_key, bool purge, int64_t now_ms) {
  Transaction tx(db.handle());
  LC_TRY(tx.Begin());
  Revocation out;
  int64_t state = -1;
  {
    auto find = Stmt::Prepare(db.handle(),
                              "SELECT id, state FROM members WHERE member_key = ?1 AND payer = ?2 "
                              "AND state <= 6");
    if (!find) return std::move(find).error();
    find->Bind(1, member_key).Bind(2, payer);
    auto row = find->Step("find the revoked member's job");
    if (!row) return std::move(row).error();
    if (*row) {
      out.job_id = find->Int(0);
      state = find->Int(1);
    }
  }
  if (out.job_id == 0) {  // no active job (an operator cancelled it already): the latest one
    auto latest = Stmt::Prepare(db.handle(),
                                "SELECT id, state FROM members WHERE member_key = ?1 AND "
                                "payer = ?2 ORDER BY id DESC LIMIT 1");
    if (!latest) return std::move(latest).error();
    latest->Bind(1, member_key).Bind(2, payer);
    auto row = latest->Step("find the revoked member's job");
    if (!row) return std::move(row).error();
    if (*row) {
      out.job_id = latest->Int(0);
      state = latest->Int(1);
    }
  }
  if (out.job_id != 0 && state <= static_cast<int64_t>(JobState::kDownloading)) {
    auto cancel = Stmt::Prepare(
        db.handle(),
        "UPDATE members SET state = ?2, updated_ms = ?3, next_ms = 0, "
        "error_class = 'consent_revoked', error_detail = 'consent revoked', http_status = NULL "
        "WHERE id = ?1");
    if (!cancel) return std::move(cancel).error();
    LC_TRY(cancel->Bind(1, out.job_id)
               .Bind(2, static_cast<int64_t>(JobState::kCancelled))
               .Bind(3, now_ms)
               .Run("cancel the revoked member's job"));
    LC_TRY(RecordEvent(db.handle(), out.job_id, now_ms, static_cast<JobState>(state),
                       JobState::kCancelled, "consent_revoked"));
    out.cancelled = true;
  }
  auto lc = Stmt::Prepare(
      db.handle(),
      "INSERT INTO member_lifecycle(payer, member_key, revoked_ms, revoked_job, purge_requested) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(payer, member_key) DO UPDATE SET "
      // The existing row's columns are named with the table (PostgreSQL finds a bare name
      // ambiguous beside `excluded`); a CASE, not SQLite's two-argument MAX.
      "revoked_ms = COALESCE(member_lifecycle.revoked_ms, excluded.revoked_ms), "
      "revoked_job = COALESCE(excluded.revoked_job, member_lifecycle.revoked_job), "
      "refresh_due_ms = NULL, "
      "purge_requested = CASE WHEN member_lifecycle.purged_ms IS NOT NULL THEN 0 "
      "WHEN excluded.purge_requested > member_lifecycle.purge_requested "
      "THEN excluded.purge_requested ELSE member_lifecycle.purge_requested END");
  if (!lc) return std::move(lc).error();
  lc->Bind(1, payer).Bind(2, member_key).Bind(3, now_ms);
  if (out.job_id != 0) {
    lc->Bind(4, out.job_id);
  } else {
    lc->BindNull(4);
  }
  LC_TRY(lc->Bind(5, int64_t{purge ? 1 : 0}).Run("record revocation"));
  LC_TRY(tx.Commit());
  auto now = LoadLifecycle(db, payer, member_key);
  if (!now) return std::move(now).error();
  out.purge_requested = *now && (*now)->purge_requested;
  return out;
}

Result<std::vector<std::string>> CancelledPayersOf(StateDb& db, const std::string& member_key,
                                                  const std::string& payer) {
  // Each payer's latest job: the row with no later job of the same (member_key, payer).
  auto st = Stmt::Prepare(db.handle(),
                          "SELECT m.payer, m.state FROM members m WHERE m.member_key = ?1 AND "
                          "(?2 = '' OR m.payer = ?2) AND NOT EXISTS (SELECT 1 FROM members n "
                          "WHERE n.member_key = m.member_key AND n.payer = m.payer AND "
                          "n.id > m.id) ORDER BY m.payer");
  if (!st) return std::move(st).error();
  st->Bind(1, member_key).Bind(2, payer);
  std::vector<std::string> out;
  for (;;) {
    auto row = st->Step("payers of a cancelled member");
    if (!row) return std::move(row).error();
    if (!*row) break;
    if (st->Int(1) == static_cast<int64_t>(JobState::kCancelled)) out.push_back(st->Text(0));
  }
  return out;
}

Result<std::vector<PendingPurge>> PendingPurges(StateDb& db, const std::string& payer, int limit) {
  auto st = Stmt::Prepare(db.handle(),
                          "SELECT member_key, COALESCE(revoked_job, 0) FROM member_lifecycle "
                          "WHERE payer = ?1 AND purge_requested = 1 LIMIT ?2");
  if (!st) return std::move(st).error();
  st->Bind(1, payer).Bind(2, int64_t{limit});
  std::vector<PendingPurge> out;
  for (;;) {
    auto row = st->Step("pending purges");
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back(PendingPurge{st->Text(0), st->Int(1)});
  }
  return out;
}

Result<void> PurgeDone(StateDb& db, const std::string& payer, const std::string& member_key,
                       int64_t job_id, int64_t count,
                       const std::vector<std::pair<std::string, int64_t>>& tombstone_marks,
                       int64_t now_ms) {
  Transaction tx(db.handle());
  LC_TRY(tx.Begin());
  auto st = Stmt::Prepare(db.handle(),
                          "UPDATE member_lifecycle SET purge_requested = 0, purged_ms = ?3, "
                          "purged_count = COALESCE(purged_count, 0) + ?4 "
                          "WHERE payer = ?1 AND member_key = ?2");
  if (!st) return std::move(st).error();
  LC_TRY(st->Bind(1, payer).Bind(2, member_key).Bind(3, now_ms).Bind(4, count).Run("record purge"));
  LC_TRY(UpsertTombstoneMarks(db.handle(), tombstone_marks));
  if (job_id != 0) {
    auto state = Stmt::Prepare(db.handle(), "SELECT state FROM members WHERE id = ?1");
    if (!state) return std::move(state).error();
    state->Bind(1, job_id);
    auto row = state->Step("record purge");
    if (!row) return std::move(row).error();
    if (*row) {
      const auto s = static_cast<JobState>(state->Int(0));
      state->Reset();
      LC_TRY(RecordEvent(db.handle(), job_id, now_ms, s, s, "consent_purged"));
    }
  }
  return tx.Commit();
}

Result<void> DeletedFileDone(StateDb& db, const FileRow& file,
                             const std::vector<std::pair<std::string, int64_t>>& tombstone_marks) {
  Transaction tx(db.handle());
  LC_TRY(tx.Begin());
  LC_TRY(db.CheckLease(file.job_id));
  auto st = Stmt::Prepare(db.handle(),
                          "UPDATE files SET state = ?3, lines = ?4, stored = ?5, bad_lines = ?6, "
                          "bytes = ?7, attempts = ?8 WHERE job_id = ?1 AND idx = ?2");
  if (!st) return std::move(st).error();
  LC_TRY(st->Bind(1, file.job_id)
             .Bind(2, static_cast<int64_t>(file.idx))
             .Bind(3, static_cast<int64_t>(file.state))
             .Bind(4, file.lines)
             .Bind(5, file.stored)
             .Bind(6, file.bad_lines)
             .Bind(7, file.bytes)
             .Bind(8, file.attempts)
             .Run("mark deleted file done"));
  LC_TRY(UpsertTombstoneMarks(db.handle(), tombstone_marks));
  return tx.Commit();
}

Result<std::map<std::string, int64_t>> TombstoneMarks(StateDb& db) {
  auto st = Stmt::Prepare(db.handle(), "SELECT type, deleted_end FROM store_tombstone_marks");
  if (!st) return std::move(st).error();
  std::map<std::string, int64_t> out;
  for (;;) {
    auto row = st->Step("tombstone marks");
    if (!row) return std::move(row).error();
    if (!*row) break;
    out[st->Text(0)] = st->Int(1);
  }
  return out;
}

Result<bool> OnlyConsentWaits(StateDb& db, const std::string& payer, int64_t today_days) {
  auto st = Stmt::Prepare(
      db.handle(),
      "SELECT EXISTS (SELECT 1 FROM members m WHERE m.payer = ?1 AND m.state <= 5 AND NOT "
      "(m.state = 0 AND EXISTS (SELECT 1 FROM member_lifecycle l WHERE l.payer = m.payer AND "
      "l.member_key = m.member_key AND l.consent_start > ?2)))");
  if (!st) return std::move(st).error();
  st->Bind(1, payer).Bind(2, today_days);
  auto row = st->Step("jobs waiting for their consent period");
  if (!row) return std::move(row).error();
  return st->Int(0) == 0;
}

}  // namespace p2p::state
