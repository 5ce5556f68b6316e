#include "state/state_db.h"

#include <sys/stat.h>

#include "state/migrations.h"
#include "state/sqlite/sqlite_conn.h"

namespace p2p::state {

namespace {

constexpr const char* kJobColumns =
    "id, member_key, payer, state, row_json, deadline, consent_end, created_ms, "
    "COALESCE(requested_ms,0), COALESCE(completed_ms,0), next_ms, attempts, COALESCE(group_id,''), "
    "COALESCE(member_identifier,''), COALESCE(poll_url,''), COALESCE(export_started_ms,0), polls, "
    "rekicks, COALESCE(transaction_time,''), requires_token, COALESCE(error_class,''), "
    "COALESCE(error_detail,''), COALESCE(http_status,0), expired_rekicks, "
    "COALESCE(throttled_since_ms,0)";

// The scheduler's queries (Runnable, NextWake, NextDue). Runnable: deadline order straight from
// the index, stopping at LIMIT: never a sort of every due job (members_wake would be chosen
// otherwise, and sort all of them on each pass). PostgreSQL drops the INDEXED BY hint and picks
// members_runnable by itself (tests/postgres/state_query_plans_test.cpp checks it).
constexpr const char* kRunnableSql =
    "SELECT id FROM members INDEXED BY members_runnable WHERE payer=?1 AND state<=5 AND "
    "next_ms<=?2 ORDER BY deadline, id LIMIT ?3";
constexpr const char* kNextWakeSql = "SELECT MIN(next_ms) FROM members WHERE payer=?1 AND state<=5";
constexpr const char* kNextDueSql =
    "SELECT MIN(next_ms) FROM members WHERE payer=?1 AND state<=5 AND next_ms>?2";

Job ReadJob(const Stmt& s) {
  Job j;
  j.id = s.Int(0);
  j.member_key = s.Text(1);
  j.payer = s.Text(2);
  j.state = static_cast<JobState>(s.Int(3));
  j.row_json = s.Text(4);
  j.deadline = s.Int(5);
  j.consent_end_days = s.Int(6);
  j.created_ms = s.Int(7);
  j.requested_ms = s.Int(8);
  j.completed_ms = s.Int(9);
  j.next_ms = s.Int(10);
  j.attempts = s.Int(11);
  j.group_id = s.Text(12);
  j.member_identifier = s.Text(13);
  j.poll_url = s.Text(14);
  j.export_started_ms = s.Int(15);
  j.polls = s.Int(16);
  j.rekicks = s.Int(17);
  j.transaction_time = s.Text(18);
  j.requires_token = s.Int(19) != 0;
  j.error_class = s.Text(20);
  j.error_detail = s.Text(21);
  j.http_status = static_cast<int>(s.Int(22));
  j.expired_rekicks = s.Int(23);
  j.throttled_since_ms = s.Int(24);
  return j;
}

#define P2P_TRY(expr)                                \
  do {                                               \
    auto _r = (expr);                                \
    if (!_r) return std::move(_r).error();           \
  } while (0)

}  // namespace

namespace {

// The job save; REQUIRES for the caller's kCancelled rule: `previous` (?19) is the state in the
// DB. PostgreSQL: a terminal job gives its lease back in the same write (a daemon killed right
// after it leaves no lease behind).
std::string SaveJobSql(Dialect dialect) {
  std::string sql =
      "UPDATE members SET state=?2, updated_ms=?3, requested_ms=NULLIF(?4,0), "
      "completed_ms=NULLIF(?5,0), next_ms=?6, attempts=?7, group_id=NULLIF(?8,''), "
      "member_identifier=NULLIF(?9,''), poll_url=NULLIF(?10,''), "
      "export_started_ms=NULLIF(?11,0), polls=?12, rekicks=?13, "
      "transaction_time=NULLIF(?14,''), requires_token=?15, error_class=NULLIF(?16,''), "
      "error_detail=NULLIF(?17,''), http_status=NULLIF(?18,0), expired_rekicks=?20, "
      "throttled_since_ms=NULLIF(?21,0) ";
  if (dialect == Dialect::kPostgres) {
    sql += ", lease_owner=CASE WHEN ?2>5 THEN NULL ELSE lease_owner END, "
           "lease_until_ms=CASE WHEN ?2>5 THEN 0 ELSE lease_until_ms END ";
  }
  return sql + "WHERE id=?1 AND state=?19";
}

}  // namespace

Result<std::unique_ptr<StateDb>> StateDb::Open(const std::string& path) {
  auto conn = SqliteConn::Open(path);
  if (!conn) return std::move(conn).error();
  auto v = ApplyMigrations(conn->get(), EmbeddedMigrations());
  if (!v) return std::move(v).error().Context("state DB " + path);
  // WAL and SHM files inherit nothing from the DB file's mode: tighten them too.
  ::chmod((path + "-wal").c_str(), 0600);
  ::chmod((path + "-shm").c_str(), 0600);
  std::unique_ptr<StateDb> s(new StateDb(std::move(conn).value()));
  P2P_TRY(s->PrepareAll());
  return s;
}

Result<std::unique_ptr<StateDb>> StateDb::OpenPostgres(PgConnOptions options) {
  auto conn = PgConn::Open(std::move(options));
  if (!conn) return std::move(conn).error().Context("state database");
  std::unique_ptr<StateDb> s(new StateDb(std::move(conn).value()));
  P2P_TRY(s->PrepareAll());
  return s;
}

StateDb::~StateDb() = default;

std::vector<std::string_view> StateDb::SchedulerQueries() {
  return {kRunnableSql, kNextWakeSql, kNextDueSql};
}

Result<void> StateDb::PrepareAll() {
  struct {
    Stmt* stmt;
    std::string sql;
  } all[] = {
      {&load_job_, std::string("SELECT ") + kJobColumns + " FROM members WHERE id=?1"},
      {&save_job_, SaveJobSql(db_->dialect())},
      {&insert_event_,
       "INSERT INTO events(job_id, at_ms, from_state, to_state, error_class) "
       "VALUES (?1, ?2, ?3, ?4, NULLIF(?5,''))"},
      {&runnable_, kRunnableSql},
      {&next_wake_, kNextWakeSql},
      {&next_due_, kNextDueSql},
      {&insert_member_,
       "INSERT INTO members(member_key, payer, state, row_json, deadline, consent_end, "
       "source_file, source_line, created_ms, updated_ms) VALUES (?1,?2,0,?3,?4,?5,?6,?7,?8,?8)"},
      {&find_active_, "SELECT 1 FROM members WHERE member_key=?1 AND payer=?2 AND state<=6"},
      {&insert_file_,
       "INSERT INTO files(job_id, idx, kind, type, url, state, lines, stored, bad_lines, bytes, "
       "attempts) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"},
      {&delete_files_, "DELETE FROM files WHERE job_id=?1"},
      {&load_files_,
       "SELECT job_id, idx, kind, type, url, state, lines, stored, bad_lines, bytes, attempts "
       "FROM files WHERE job_id=?1 ORDER BY idx"},
      {&file_done_,
       "UPDATE files SET state=?3, lines=?4, stored=?5, bad_lines=?6, bytes=?7, attempts=?8 "
       "WHERE job_id=?1 AND idx=?2"},
      {&insert_bad_,
       "INSERT INTO bad_lines(job_id, file_idx, line_no, reason) VALUES (?1,?2,?3,?4) "
       "ON CONFLICT(job_id, file_idx, line_no) DO UPDATE SET reason=excluded.reason"},
      {&file_attempts_, "UPDATE files SET attempts=?3 WHERE job_id=?1 AND idx=?2"},
      {&upsert_mark_,
       "INSERT INTO store_marks(type, ndjson_end, index_end) VALUES (?1,?2,?3) "
       "ON CONFLICT(type) DO UPDATE SET ndjson_end=excluded.ndjson_end, "
       "index_end=excluded.index_end"},
  };
  for (auto& a : all) {
    auto st = Stmt::Prepare(db_, a.sql);
    if (!st) return std::move(st).error().Context("state DB");
    *a.stmt = std::move(st).value();
  }
  return Ok();
}

Result<bool> StateDb::SourceFileTaken(const std::string& name) {
  auto st = Stmt::Prepare(db_, "SELECT 1 FROM source_files WHERE name=?1");
  if (!st) return std::move(st).error();
  st->Bind(1, name);
  auto row = st->Step("look up source file");
  if (!row) return std::move(row).error();
  return *row;
}

Result<IntakeCounts> StateDb::TakeIn(const std::string& file_name,
                                     const std::vector<NewMember>& members, int rows_bad,
                                     int64_t now_ms) {
  IntakeCounts counts;
  Transaction tx(db_);
  P2P_TRY(tx.Begin());
  for (const NewMember& m : members) {
    P2P_TRY(InsertMemberInTransaction(file_name, m, now_ms, counts));
  }
  auto rec = Stmt::Prepare(
      db_, "INSERT INTO source_files(name, rows_ok, rows_bad, taken_ms) VALUES (?1,?2,?3,?4) "
           "ON CONFLICT(name) DO UPDATE SET rows_ok=excluded.rows_ok, "
           "rows_bad=excluded.rows_bad, taken_ms=excluded.taken_ms");
  if (!rec) return std::move(rec).error();
  rec->Bind(1, file_name)
      .Bind(2, static_cast<int64_t>(members.size()))
      .Bind(3, static_cast<int64_t>(rows_bad))
      .Bind(4, now_ms);
  P2P_TRY(rec->Run("record source file"));
  P2P_TRY(tx.Commit());
  return counts;
}

Result<void> StateDb::InsertMemberInTransaction(const std::string& file_name, const NewMember& m,
                                                int64_t now_ms, IntakeCounts& counts) {
  find_active_.Bind(1, m.member_key).Bind(2, m.payer);
  auto found = find_active_.Step("look up member");
  find_active_.Reset();
  if (!found) return std::move(found).error();
  if (*found) {
    ++counts.already_known;
    return Ok();
  }
  insert_member_.Bind(1, m.member_key)
      .Bind(2, m.payer)
      .Bind(3, m.row_json)
      .Bind(4, m.deadline)
      .Bind(5, m.consent_end_days)
      .Bind(6, file_name)
      .Bind(7, m.source_line)
      .Bind(8, now_ms);
  P2P_TRY(insert_member_.Run("insert member"));
  ++counts.inserted;
  return Ok();
}

Result<std::vector<int64_t>> StateDb::Runnable(const std::string& payer, int64_t now_ms, int limit) {
  std::vector<int64_t> ids;
  runnable_.Bind(1, payer).Bind(2, now_ms).Bind(3, static_cast<int64_t>(limit));
  for (;;) {
    auto row = runnable_.Step("select runnable jobs");
    if (!row) {
      runnable_.Reset();
      return std::move(row).error();
    }
    if (!*row) break;
    ids.push_back(runnable_.Int(0));
  }
  runnable_.Reset();
  return ids;
}

Result<std::optional<int64_t>> StateDb::NextWake(const std::string& payer) {
  next_wake_.Bind(1, payer);
  auto row = next_wake_.Step("next wake");
  std::optional<int64_t> out;
  if (row && *row && !next_wake_.IsNull(0)) out = next_wake_.Int(0);
  next_wake_.Reset();
  if (!row) return std::move(row).error();
  return out;
}

Result<std::optional<int64_t>> StateDb::NextDue(const std::string& payer, int64_t after_ms) {
  next_due_.Bind(1, payer).Bind(2, after_ms);
  auto row = next_due_.Step("next due");
  std::optional<int64_t> out;
  if (row && *row && !next_due_.IsNull(0)) out = next_due_.Int(0);
  next_due_.Reset();
  if (!row) return std::move(row).error();
  return out;
}

Result<int64_t> StateDb::WakeWaiting(const std::string& payer, std::string_view error_class,
                                     int64_t now_ms) {
  auto st = Stmt::Prepare(db_,
                          "UPDATE members SET next_ms=?3 WHERE payer=?1 AND state<=5 AND "
                          "error_class=?2 AND next_ms>?3");
  if (!st) return std::move(st).error();
  st->Bind(1, payer).Bind(2, std::string(error_class)).Bind(3, now_ms);
  if (auto r = st->Run("wake waiting jobs"); !r) return std::move(r).error();
  return static_cast<int64_t>(db_->Changes());
}

Result<int64_t> StateDb::ActiveCount() {
  // From the kept counts (a few rows per payer), not a count of the members rows: the systemd
  // status line asks every few seconds, and a count of 100,000 active jobs took 24 ms.
  auto st = Stmt::Prepare(db_, "SELECT COALESCE(SUM(n), 0) FROM member_counts WHERE state<=5");
  if (!st) return std::move(st).error();
  auto row = st->Step("count active");
  if (!row) return std::move(row).error();
  return st->Int(0);
}

Result<Job> StateDb::LoadJob(int64_t id) {
  load_job_.Bind(1, id);
  auto row = load_job_.Step("load job");
  if (!row) {
    load_job_.Reset();
    return std::move(row).error();
  }
  if (!*row) {
    load_job_.Reset();
    return MakeError(ErrorKind::kInternal, "job " + std::to_string(id) + " not found");
  }
  Job j = ReadJob(load_job_);
  load_job_.Reset();
  return j;
}

Result<void> StateDb::WriteJob(const Job& job, JobState previous, int64_t now_ms) {
  P2P_TRY(CheckLease(job.id));
  save_job_.Bind(1, job.id)
      .Bind(2, static_cast<int64_t>(job.state))
      .Bind(3, now_ms)
      .Bind(4, job.requested_ms)
      .Bind(5, job.completed_ms)
      .Bind(6, job.next_ms)
      .Bind(7, job.attempts)
      .Bind(8, job.group_id)
      .Bind(9, job.member_identifier)
      .Bind(10, job.poll_url)
      .Bind(11, job.export_started_ms)
      .Bind(12, job.polls)
      .Bind(13, job.rekicks)
      .Bind(14, job.transaction_time)
      .Bind(15, static_cast<int64_t>(job.requires_token ? 1 : 0))
      .Bind(16, job.error_class)
      .Bind(17, job.error_detail)
      .Bind(18, static_cast<int64_t>(job.http_status))
      .Bind(19, static_cast<int64_t>(previous))
      .Bind(20, job.expired_rekicks)
      .Bind(21, job.throttled_since_ms);
  P2P_TRY(save_job_.Run("save job"));
  if (db_->Changes() != 1) {
    // Someone else (an operator's cancel or retry) changed the job since it was loaded.
    return MakeError(ErrorKind::kCancelled,
                     "job " + std::to_string(job.id) + " was changed by an operator");
  }
  // A terminal job's lease went with the save (PostgreSQL's save_job clears it).
  if (IsTerminal(job.state)) ForgetLease(job.id);
  if (job.state != previous) {
    insert_event_.Bind(1, job.id)
        .Bind(2, now_ms)
        .Bind(3, static_cast<int64_t>(previous))
        .Bind(4, static_cast<int64_t>(job.state))
        .Bind(5, job.error_class);
    P2P_TRY(insert_event_.Run("record transition"));
  }
  return Ok();
}

Result<void> StateDb::SaveJob(const Job& job, JobState previous, int64_t now_ms) {
  Transaction tx(db_);
  P2P_TRY(tx.Begin());
  P2P_TRY(WriteJob(job, previous, now_ms));
  return tx.Commit();
}

Result<void> StateDb::SaveManifest(const Job& job, JobState previous,
                                   const std::vector<FileRow>& files, int64_t now_ms) {
  Transaction tx(db_);
  P2P_TRY(tx.Begin());
  delete_files_.Bind(1, job.id);
  P2P_TRY(delete_files_.Run("delete files"));
  P2P_TRY(InsertFiles(job.id, files));
  P2P_TRY(WriteJob(job, previous, now_ms));
  return tx.Commit();
}

Result<void> StateDb::InsertFiles(int64_t job_id, const std::vector<FileRow>& files) {
  for (const FileRow& f : files) {
    insert_file_.Bind(1, job_id)
        .Bind(2, static_cast<int64_t>(f.idx))
        .Bind(3, static_cast<int64_t>(f.kind))
        .Bind(4, f.type)
        .Bind(5, f.url)
        .Bind(6, static_cast<int64_t>(f.state))
        .Bind(7, f.lines)
        .Bind(8, f.stored)
        .Bind(9, f.bad_lines)
        .Bind(10, f.bytes)
        .Bind(11, f.attempts);
    P2P_TRY(insert_file_.Run("insert file"));
  }
  return Ok();
}

Result<std::vector<FileRow>> StateDb::LoadFiles(int64_t job_id) {
  std::vector<FileRow> out;
  load_files_.Bind(1, job_id);
  for (;;) {
    auto row = load_files_.Step("load files");
    if (!row) {
      load_files_.Reset();
      return std::move(row).error();
    }
    if (!*row) break;
    FileRow f;
    f.job_id = load_files_.Int(0);
    f.idx = static_cast<int>(load_files_.Int(1));
    f.kind = static_cast<FileKind>(load_files_.Int(2));
    f.type = load_files_.Text(3);
    f.url = load_files_.Text(4);
    f.state = static_cast<FileState>(load_files_.Int(5));
    f.lines = load_files_.Int(6);
    f.stored = load_files_.Int(7);
    f.bad_lines = load_files_.Int(8);
    f.bytes = load_files_.Int(9);
    f.attempts = load_files_.Int(10);
    out.push_back(std::move(f));
  }
  load_files_.Reset();
  return out;
}

Result<void> StateDb::FileDone(const FileRow& file, const std::vector<BadLine>& bad,
                               const std::optional<std::pair<std::string, TypeMark>>& mark) {
  Transaction tx(db_);
  P2P_TRY(tx.Begin());
  P2P_TRY(CheckLease(file.job_id));
  file_done_.Bind(1, file.job_id)
      .Bind(2, static_cast<int64_t>(file.idx))
      .Bind(3, static_cast<int64_t>(file.state))
      .Bind(4, file.lines)
      .Bind(5, file.stored)
      .Bind(6, file.bad_lines)
      .Bind(7, file.bytes)
      .Bind(8, file.attempts);
  P2P_TRY(file_done_.Run("mark file done"));
  for (const BadLine& b : bad) {
    insert_bad_.Bind(1, file.job_id)
        .Bind(2, static_cast<int64_t>(file.idx))
        .Bind(3, b.line_no)
        .Bind(4, b.reason);
    P2P_TRY(insert_bad_.Run("record bad line"));
  }
  if (mark) {
    upsert_mark_.Bind(1, mark->first).Bind(2, mark->second.ndjson_end).Bind(3, mark->second.index_end);
    P2P_TRY(upsert_mark_.Run("record store mark"));
  }
  P2P_TRY(tx.Commit());
  return Ok();
}

Result<void> StateDb::SaveFileAttempts(int64_t job_id, int idx, int64_t attempts) {
  Transaction tx(db_);
  P2P_TRY(tx.Begin());
  P2P_TRY(CheckLease(job_id));
  file_attempts_.Bind(1, job_id).Bind(2, static_cast<int64_t>(idx)).Bind(3, attempts);
  P2P_TRY(file_attempts_.Run("save file attempts"));
  return tx.Commit();
}

Result<std::map<std::string, TypeMark>> StateDb::StoreMarks() {
  std::map<std::string, TypeMark> out;
  auto st = Stmt::Prepare(db_, "SELECT type, ndjson_end, index_end FROM store_marks");
  if (!st) return std::move(st).error();
  for (;;) {
    auto row = st->Step("read store marks");
    if (!row) return std::move(row).error();
    if (!*row) break;
    out[st->Text(0)] = TypeMark{st->Int(1), st->Int(2)};
  }
  return out;
}

Result<void> StateDb::ReplaceStoreMarks(const std::map<std::string, TypeMark>& marks) {
  Transaction tx(db_);
  P2P_TRY(tx.Begin());
  P2P_TRY(Exec(db_, "DELETE FROM store_marks", "clear store marks"));
  for (const auto& [type, m] : marks) {
    upsert_mark_.Bind(1, type).Bind(2, m.ndjson_end).Bind(3, m.index_end);
    P2P_TRY(upsert_mark_.Run("record store mark"));
  }
  P2P_TRY(tx.Commit());
  // Compaction rewrote the store files: the new marks must not roll back (synchronous=NORMAL,
  // see SqliteConn::Open), so the WAL is synced into the DB now. (PostgreSQL commits durably.)
  if (auto* lite = dynamic_cast<SqliteConn*>(db_)) {
    int rc = sqlite3_wal_checkpoint_v2(lite->raw(), nullptr, SQLITE_CHECKPOINT_FULL, nullptr,
                                       nullptr);
    if (rc != SQLITE_OK) return SqliteError(lite->raw(), rc, "sync store marks");
  }
  return Ok();
}

Result<std::array<int64_t, kJobStateCount>> StateDb::CountByState() {
  std::array<int64_t, kJobStateCount> out{};
  // Summed here rather than with GROUP BY state: the key is (payer, state), and the table holds
  // a few rows per payer.
  auto st = Stmt::Prepare(db_, "SELECT state, n FROM member_counts");
  if (!st) return std::move(st).error();
  for (;;) {
    auto row = st->Step("count by state");
    if (!row) return std::move(row).error();
    if (!*row) break;
    int64_t s = st->Int(0);
    if (s >= 0 && s < kJobStateCount) out[static_cast<size_t>(s)] += st->Int(1);
  }
  return out;
}

Result<std::vector<PayerStateCount>> StateDb::CountByPayerState() {
  std::vector<PayerStateCount> out;
  auto st = Stmt::Prepare(db_, "SELECT payer, state, n FROM member_counts WHERE n > 0 ORDER BY payer, state");
  if (!st) return std::move(st).error();
  for (;;) {
    auto row = st->Step("count by payer");
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back({st->Text(0), static_cast<JobState>(st->Int(1)), st->Int(2)});
  }
  return out;
}

Result<int64_t> StateDb::CountDeadlineBefore(int64_t unix_s, bool requested) {
  auto st = Stmt::Prepare(
      db_, requested ? "SELECT COUNT(*) FROM members WHERE deadline < ?1 AND requested_ms IS NOT NULL "
                       "AND requested_ms/1000 > deadline"
                     : "SELECT COUNT(*) FROM members WHERE state<=5 AND requested_ms IS NULL AND "
                       "deadline < ?1");
  if (!st) return std::move(st).error();
  st->Bind(1, unix_s);
  auto row = st->Step("count deadlines");
  if (!row) return std::move(row).error();
  return st->Int(0);
}

Result<int64_t> StateDb::BadLineCount() {
  auto st = Stmt::Prepare(db_, "SELECT COUNT(*) FROM bad_lines");
  if (!st) return std::move(st).error();
  auto row = st->Step("count bad lines");
  if (!row) return std::move(row).error();
  return st->Int(0);
}

Result<int64_t> StateDb::Housekeep(int64_t older_than_ms, int max_jobs) {
  if (max_jobs <= 0) {
    return MakeError(ErrorKind::kInvalid, "housekeep: max_jobs must be positive");
  }
  // Walks complete jobs by id (members_state holds (state, id)); the cursor makes one call one
  // pass even when a batch finds jobs that have nothing left to trim.
  auto pick = Stmt::Prepare(
      db_,
      "SELECT id FROM members INDEXED BY members_state WHERE state=6 AND id>?1 "
      "AND completed_ms<?2 AND (EXISTS (SELECT 1 FROM files WHERE job_id=members.id) OR "
      "EXISTS (SELECT 1 FROM bad_lines WHERE job_id=members.id)) ORDER BY id LIMIT ?3");
  if (!pick) return std::move(pick).error().Context("housekeep");
  auto del_files = Stmt::Prepare(db_, "DELETE FROM files WHERE job_id=?1");
  if (!del_files) return std::move(del_files).error().Context("housekeep");
  auto del_bad = Stmt::Prepare(db_, "DELETE FROM bad_lines WHERE job_id=?1");
  if (!del_bad) return std::move(del_bad).error().Context("housekeep");

  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(max_jobs));
  int64_t cursor = 0;
  int64_t trimmed = 0;
  for (;;) {
    ids.clear();
    Transaction tx(db_);
    P2P_TRY(tx.Begin());
    pick->Bind(1, cursor).Bind(2, older_than_ms).Bind(3, static_cast<int64_t>(max_jobs));
    for (;;) {
      auto row = pick->Step("housekeep: pick jobs");
      if (!row) {
        pick->Reset();
        return std::move(row).error();
      }
      if (!*row) break;
      ids.push_back(pick->Int(0));
    }
    pick->Reset();
    if (ids.empty()) break;  // the transaction rolls back: nothing was written
    for (int64_t id : ids) {
      del_files->Bind(1, id);
      P2P_TRY(del_files->Run("housekeep: delete files"));
      del_bad->Bind(1, id);
      P2P_TRY(del_bad->Run("housekeep: delete bad lines"));
    }
    P2P_TRY(tx.Commit());
    trimmed += static_cast<int64_t>(ids.size());
    cursor = ids.back();
    if (ids.size() < static_cast<size_t>(max_jobs)) break;
  }
  // SQLite gives the freed pages back to the file system; PostgreSQL's autovacuum reuses them.
  if (trimmed > 0 && db_->dialect() == Dialect::kSqlite) {
    P2P_TRY(Exec(db_, "PRAGMA incremental_vacuum", "housekeep: vacuum"));
  }
  return trimmed;
}

void StateDb::Checkpoint() {
  if (auto* lite = dynamic_cast<SqliteConn*>(db_)) {
    sqlite3_wal_checkpoint_v2(lite->raw(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }
}

}  // namespace p2p::state
