#include "state/bulk_match_db.h"

#include "state/sql.h"

namespace p2p::state {

#define BM_TRY(expr)                             \
  do {                                           \
    auto bm_r_ = (expr);                         \
    if (!bm_r_) return std::move(bm_r_).error(); \
  } while (0)

Result<void> StateDb::SaveJobInTransaction(const Job& job, JobState previous, int64_t now_ms) {
  return WriteJob(job, previous, now_ms);
}

namespace {

int64_t I(JobState s) { return static_cast<int64_t>(s); }

}  // namespace

Result<std::optional<GroupExportInfo>> BulkMatchDb::Find(int64_t job_id) {
  auto st = Stmt::Prepare(db_.handle(), "SELECT kind, payer FROM group_exports WHERE job_id=?1");
  if (!st) return std::move(st).error();
  st->Bind(1, job_id);
  auto row = st->Step("find group export");
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<GroupExportInfo>();
  return std::optional<GroupExportInfo>(
      GroupExportInfo{static_cast<GroupExportKind>(st->Int(0)), st->Text(1)});
}

Result<void> BulkMatchDb::Transition(int64_t job_id, JobState from, JobState to,
                                     std::string_view error_class, std::string_view detail,
                                     int64_t now_ms) {
  auto up = Stmt::Prepare(
      db_.handle(),
      "UPDATE members SET state=?3, updated_ms=?4, next_ms=0, attempts=0, "
      "error_class=NULLIF(?5,''),"
      " error_detail=NULLIF(?6,''), completed_ms=CASE WHEN ?3 = 6 THEN ?4 ELSE completed_ms END"
      " WHERE id=?1 AND state=?2");
  if (!up) return std::move(up).error();
  up->Bind(1, job_id)
      .Bind(2, I(from))
      .Bind(3, I(to))
      .Bind(4, now_ms)
      .Bind(5, error_class)
      .Bind(6, detail);
  BM_TRY(up->Run("bulk match: member transition"));
  if (db_.handle()->Changes() != 1) return Ok();  // an operator changed it: theirs stands
  auto ev = Stmt::Prepare(db_.handle(),
                          "INSERT INTO events(job_id, at_ms, from_state, to_state, error_class) "
                          "VALUES (?1, ?2, ?3, ?4, NULLIF(?5,''))");
  if (!ev) return std::move(ev).error();
  ev->Bind(1, job_id).Bind(2, now_ms).Bind(3, I(from)).Bind(4, I(to)).Bind(5, error_class);
  return ev->Run("bulk match: record transition");
}

Result<int64_t> BulkMatchDb::Join(const Job& member, int batch_size, int64_t wait_ms,
                                  int64_t now_ms) {
  Conn* h = db_.handle();
  Transaction txn(h);
  BM_TRY(txn.Begin());
  auto open = Stmt::Prepare(h,
                            "SELECT g.job_id, g.size FROM group_exports g JOIN members m ON m.id = "
                            "g.job_id WHERE g.payer=?1 AND g.kind=1 AND m.state=0 AND g.size < ?2 "
                            "ORDER BY g.job_id LIMIT 1");
  if (!open) return std::move(open).error();
  open->Bind(1, member.payer).Bind(2, int64_t{batch_size});
  auto row = open->Step("bulk match: open batch");
  if (!row) return std::move(row).error();
  int64_t batch = 0, size = 0;
  if (*row) {
    batch = open->Int(0);
    size = open->Int(1);
    open->Reset();
  } else {
    open->Reset();
    auto n = Stmt::Prepare(h, "SELECT COUNT(*) FROM group_exports WHERE payer=?1 AND kind=1");
    if (!n) return std::move(n).error();
    n->Bind(1, member.payer);
    BM_TRY(n->Step("bulk match: count batches"));
    const std::string key = "bulk-match:" + std::to_string(n->Int(0) + 1);
    n->Reset();
    auto ins = Stmt::Prepare(h,
                             "INSERT INTO members(member_key, payer, state, row_json, deadline, "
                             "consent_end, created_ms, "
                             "updated_ms, next_ms) VALUES (?1, ?2, 0, '{}', ?3, ?4, ?5, ?5, ?6) RETURNING id");
    if (!ins) return std::move(ins).error();
    ins->Bind(1, key)
        .Bind(2, member.payer)
        .Bind(3, kPseudoDeadline)
        .Bind(4, kPseudoConsentEndDays)
        .Bind(5, now_ms)
        .Bind(6, now_ms + wait_ms);
    auto made = ins->Step("bulk match: new batch");
    if (!made) return std::move(made).error();
    batch = ins->Int(0);
    ins->Reset();
    auto g = Stmt::Prepare(h, "INSERT INTO group_exports(job_id, payer, kind) VALUES (?1, ?2, 1)");
    if (!g) return std::move(g).error();
    g->Bind(1, batch).Bind(2, member.payer);
    BM_TRY(g->Run("bulk match: new batch"));
  }
  auto park = Stmt::Prepare(
      h,
      "UPDATE members SET state=1, next_ms=?2, attempts=0, updated_ms=?3 WHERE id=?1 AND state=0");
  if (!park) return std::move(park).error();
  park->Bind(1, member.id).Bind(2, kParkedMs).Bind(3, now_ms);
  BM_TRY(park->Run("bulk match: park member"));
  if (h->Changes() != 1) {
    return MakeError(ErrorKind::kCancelled,
                     "job " + std::to_string(member.id) + " was changed by an operator");
  }
  auto ev = Stmt::Prepare(h,
                          "INSERT INTO events(job_id, at_ms, from_state, to_state) "
                          "VALUES (?1, ?2, 0, 1)");
  if (!ev) return std::move(ev).error();
  ev->Bind(1, member.id).Bind(2, now_ms);
  BM_TRY(ev->Run("bulk match: record transition"));
  auto add = Stmt::Prepare(h,
                           "INSERT INTO bulk_batch_members(member_job_id, batch_job_id, outcome, "
                           "patient_id) VALUES (?1, ?2, 0, NULL) ON CONFLICT(member_job_id) DO "
                           "UPDATE SET batch_job_id=excluded.batch_job_id, outcome=0, "
                           "patient_id=NULL");
  if (!add) return std::move(add).error();
  add->Bind(1, member.id).Bind(2, batch);
  BM_TRY(add->Run("bulk match: add member"));
  auto grow = Stmt::Prepare(h, "UPDATE group_exports SET size=size+1 WHERE job_id=?1");
  if (!grow) return std::move(grow).error();
  grow->Bind(1, batch);
  BM_TRY(grow->Run("bulk match: batch size"));
  if (size + 1 >= batch_size) {
    auto due = Stmt::Prepare(h, "UPDATE members SET next_ms=0 WHERE id=?1 AND state=0");
    if (!due) return std::move(due).error();
    due->Bind(1, batch);
    BM_TRY(due->Run("bulk match: batch full"));
  }
  BM_TRY(txn.Commit());
  return batch;
}

Result<std::vector<BatchMember>> BulkMatchDb::Waiting(int64_t batch_job_id) {
  auto st = Stmt::Prepare(db_.handle(),
                          "SELECT m.id, m.member_key, m.row_json FROM bulk_batch_members b JOIN "
                          "members m ON m.id = b.member_job_id WHERE b.batch_job_id=?1 AND "
                          "b.outcome=0 AND m.state=1 ORDER BY m.id");
  if (!st) return std::move(st).error();
  st->Bind(1, batch_job_id);
  std::vector<BatchMember> out;
  for (;;) {
    auto row = st->Step("bulk match: batch members");
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back(BatchMember{st->Int(0), st->Text(1), st->Text(2)});
  }
  return out;
}

Result<void> BulkMatchDb::Seal(const Job& batch, JobState previous, int64_t now_ms) {
  Conn* h = db_.handle();
  Transaction txn(h);
  BM_TRY(txn.Begin());
  BM_TRY(db_.SaveJobInTransaction(batch, previous, now_ms));
  auto st = Stmt::Prepare(h,
                          "UPDATE members SET requested_ms=?2 WHERE requested_ms IS NULL AND id IN "
                          "(SELECT member_job_id FROM bulk_batch_members WHERE batch_job_id=?1)");
  if (!st) return std::move(st).error();
  st->Bind(1, batch.id).Bind(2, now_ms);
  BM_TRY(st->Run("bulk match: requested"));
  return txn.Commit();
}

Result<void> BulkMatchDb::Apply(const Job& batch, JobState previous,
                                const std::vector<MemberVerdict>& verdicts, int64_t now_ms) {
  Conn* h = db_.handle();
  Transaction txn(h);
  BM_TRY(txn.Begin());
  BM_TRY(db_.SaveJobInTransaction(batch, previous, now_ms));
  auto outcome = Stmt::Prepare(h,
                               "UPDATE bulk_batch_members SET outcome=?3, patient_id=NULLIF(?4,'') "
                               "WHERE member_job_id=?1 AND batch_job_id=?2");
  auto matched = Stmt::Prepare(
      h,
      "UPDATE members SET state=2, group_id=?2, updated_ms=?3, next_ms=?4, attempts=0 "
      "WHERE id=?1 AND state=1");
  auto ev = Stmt::Prepare(h,
                          "INSERT INTO events(job_id, at_ms, from_state, to_state) "
                          "VALUES (?1, ?2, 1, 2)");
  auto key =
      Stmt::Prepare(h,
                    "INSERT INTO patient_keys(payer, patient_id, member_key) SELECT payer, "
                    "?2, member_key FROM members WHERE id=?1 "
                    "ON CONFLICT(payer, patient_id) DO UPDATE SET member_key=excluded.member_key");
  for (auto* s : {&outcome, &matched, &ev, &key}) {
    if (!*s) return std::move(*s).error();
  }
  for (const MemberVerdict& v : verdicts) {
    outcome->Bind(1, v.job_id)
        .Bind(2, batch.id)
        .Bind(3, static_cast<int64_t>(v.outcome))
        .Bind(4, v.patient_id);
    BM_TRY(outcome->Run("bulk match: outcome"));
    switch (v.outcome) {
      case BulkOutcome::kMatched:
        matched->Bind(1, v.job_id).Bind(2, batch.group_id).Bind(3, now_ms).Bind(4, kParkedMs);
        BM_TRY(matched->Run("bulk match: matched"));
        if (h->Changes() == 1) {
          ev->Bind(1, v.job_id).Bind(2, now_ms);
          BM_TRY(ev->Run("bulk match: record transition"));
        }
        if (!v.patient_id.empty()) {
          key->Bind(1, v.job_id).Bind(2, v.patient_id);
          BM_TRY(key->Run("bulk match: patient key"));
        }
        break;
      case BulkOutcome::kNoMatch:
        BM_TRY(Transition(v.job_id, JobState::kMatching, JobState::kNoMatch, "no_match",
                          "$bulk-member-match: in NonMatchedMembers", now_ms));
        break;
      case BulkOutcome::kConsentRefused:
        BM_TRY(Transition(v.job_id, JobState::kMatching, JobState::kConsentRefused,
                          "consent_refused", "$bulk-member-match: in ConsentConstrainedMembers",
                          now_ms));
        break;
      case BulkOutcome::kMissing:
      case BulkOutcome::kWaiting:
        BM_TRY(Transition(v.job_id, JobState::kMatching, JobState::kFailed, "protocol",
                          "$bulk-member-match: member missing from the answer", now_ms));
        break;
    }
  }
  return txn.Commit();
}

Result<int64_t> BulkMatchDb::Settle(int64_t batch_job_id, int64_t now_ms) {
  Conn* h = db_.handle();
  auto batch = db_.LoadJob(batch_job_id);
  if (!batch) return std::move(batch).error();
  if (!IsTerminal(batch->state)) return int64_t{0};
  const bool complete = batch->state == JobState::kComplete;
  Transaction txn(h);
  BM_TRY(txn.Begin());
  auto st = Stmt::Prepare(h,
                          "SELECT m.id, m.state FROM bulk_batch_members b JOIN members m ON m.id = "
                          "b.member_job_id WHERE b.batch_job_id=?1 AND m.state IN (1, 2)");
  if (!st) return std::move(st).error();
  st->Bind(1, batch_job_id);
  std::vector<std::pair<int64_t, JobState>> ids;
  for (;;) {
    auto row = st->Step("bulk match: settle");
    if (!row) return std::move(row).error();
    if (!*row) break;
    ids.emplace_back(st->Int(0), static_cast<JobState>(st->Int(1)));
  }
  const std::string cls =
      complete ? "" : (batch->error_class.empty() ? "failed" : batch->error_class);
  const std::string detail = complete ? ""
                                      : "the Group export of batch " + batch->member_key +
                                            " ended " + std::string(JobStateName(batch->state));
  for (const auto& [id, state] : ids) {
    const bool done = complete && state == JobState::kMatched;
    BM_TRY(Transition(id, state, done ? JobState::kComplete : JobState::kFailed,
                      done ? "" : (cls.empty() ? "protocol" : cls),
                      done ? "" : (detail.empty() ? "not matched when its batch ended" : detail),
                      now_ms));
  }
  BM_TRY(txn.Commit());
  return static_cast<int64_t>(ids.size());
}

Result<int64_t> BulkMatchDb::SettleAll(int64_t now_ms) {
  auto st = Stmt::Prepare(db_.handle(),
                          "SELECT DISTINCT b.batch_job_id FROM bulk_batch_members b JOIN members m "
                          "ON m.id = b.member_job_id JOIN members g ON g.id = b.batch_job_id "
                          "WHERE m.state IN (1, 2) AND g.state>=6");
  if (!st) return std::move(st).error();
  std::vector<int64_t> batches;
  for (;;) {
    auto row = st->Step("bulk match: batches to settle");
    if (!row) return std::move(row).error();
    if (!*row) break;
    batches.push_back(st->Int(0));
  }
  int64_t moved = 0;
  for (int64_t b : batches) {
    auto n = Settle(b, now_ms);
    if (!n) return std::move(n).error();
    moved += *n;
  }
  return moved;
}

Result<int64_t> BulkMatchDb::EnqueueGroupExport(const std::string& payer,
                                                const std::string& group_id, int64_t now_ms) {
  Conn* h = db_.handle();
  Transaction txn(h);
  BM_TRY(txn.Begin());
  const std::string key = "group:" + group_id;
  auto active =
      Stmt::Prepare(h, "SELECT 1 FROM members WHERE member_key=?1 AND payer=?2 AND state<=5");
  if (!active) return std::move(active).error();
  active->Bind(1, key).Bind(2, payer);
  auto row = active->Step("group export: active");
  if (!row) return std::move(row).error();
  if (*row) {
    return MakeError(ErrorKind::kInvalid,
                     "an export of Group " + group_id + " is already queued or running");
  }
  active->Reset();
  // A finished export of the same Group is kept as history: the unique index only covers
  // active and complete jobs, so a complete one is renamed out of the way.
  auto old = Stmt::Prepare(h,
                           "UPDATE members SET member_key = member_key || '@' || id WHERE "
                           "member_key=?1 AND payer=?2 AND state=6");
  if (!old) return std::move(old).error();
  old->Bind(1, key).Bind(2, payer);
  BM_TRY(old->Run("group export: keep history"));
  auto ins = Stmt::Prepare(
      h,
      "INSERT INTO members(member_key, payer, state, row_json, deadline, consent_end, created_ms, "
      "updated_ms, requested_ms, next_ms, group_id) VALUES (?1, ?2, 2, '{}', ?3, ?4, ?5, ?5, ?5, "
      "0, ?6) RETURNING id");
  if (!ins) return std::move(ins).error();
  ins->Bind(1, key)
      .Bind(2, payer)
      .Bind(3, kPseudoDeadline)
      .Bind(4, kPseudoConsentEndDays)
      .Bind(5, now_ms)
      .Bind(6, group_id);
  auto made = ins->Step("group export: insert");
  if (!made) return std::move(made).error();
  const int64_t id = ins->Int(0);
  ins->Reset();
  auto g = Stmt::Prepare(h, "INSERT INTO group_exports(job_id, payer, kind) VALUES (?1, ?2, 2)");
  if (!g) return std::move(g).error();
  g->Bind(1, id).Bind(2, payer);
  BM_TRY(g->Run("group export: insert"));
  BM_TRY(txn.Commit());
  return id;
}

Result<std::optional<std::string>> BulkMatchDb::KeyForPatient(const std::string& payer,
                                                              std::string_view patient_id) {
  auto st = Stmt::Prepare(db_.handle(),
                          "SELECT member_key FROM patient_keys WHERE payer=?1 AND patient_id=?2");
  if (!st) return std::move(st).error();
  st->Bind(1, payer).Bind(2, patient_id);
  auto row = st->Step("patient key");
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->Text(0));
}

Result<void> BulkMatchDb::RecordPatientKeys(
    const std::string& payer, const std::vector<std::pair<std::string, std::string>>& pairs) {
  if (pairs.empty()) return Ok();
  Transaction txn(db_.handle());
  BM_TRY(txn.Begin());
  auto st =
      Stmt::Prepare(db_.handle(),
                    "INSERT INTO patient_keys(payer, patient_id, member_key) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT(payer, patient_id) DO UPDATE SET member_key=excluded.member_key");
  if (!st) return std::move(st).error();
  for (const auto& [patient, key] : pairs) {
    st->Bind(1, payer).Bind(2, patient).Bind(3, key);
    BM_TRY(st->Run("record patient key"));
  }
  return txn.Commit();
}

}  // namespace p2p::state
