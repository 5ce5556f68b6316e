// The state DB: every member job, its manifest files, bad lines, store marks and transitions.
// One interface over two backends (state/sql.h): SQLite in WAL mode (file 0600, schema from
// migrations/, the embedded default) or PostgreSQL shared by several daemons (state.kind:
// postgres, schema from migrations/postgres-state/). Every method that changes state is one
// committed transaction when it returns Ok: the pipeline calls it before sending the next
// request, so a crash at any instant resumes from the last committed step.
//
// Holds PHI (members.row_json); nothing read from here is logged except member_key and payer.
// Threading: one StateDb per process, used from the daemon's loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job_state.h"
#include "core/result.h"
#include "state/postgres/pg_conn.h"
#include "state/sql.h"

namespace p2p::state {

struct NewMember {
  std::string member_key;
  std::string payer;
  std::string row_json;  // PHI
  int64_t deadline = 0;  // unix s
  int64_t consent_end_days = 0;
  int64_t source_line = 0;
};

struct IntakeCounts {
  int inserted = 0;
  int already_known = 0;  // an active or complete job exists for (member_key, payer)
};

struct Job {
  int64_t id = 0;
  std::string member_key;
  std::string payer;
  JobState state = JobState::kPending;
  std::string row_json;
  int64_t deadline = 0;
  int64_t consent_end_days = 0;
  int64_t created_ms = 0;
  int64_t requested_ms = 0;  // 0 = not yet
  int64_t completed_ms = 0;
  int64_t next_ms = 0;
  int64_t attempts = 0;
  std::string group_id;
  std::string member_identifier;
  std::string poll_url;
  int64_t export_started_ms = 0;
  int64_t polls = 0;
  int64_t rekicks = 0;          // exports kicked off again, all causes
  int64_t expired_rekicks = 0;  // of which because its files or status were gone or expired
  // Those because the payer reported the export failed.
  int64_t failed_rekicks() const { return rekicks - expired_rekicks; }
  std::string transaction_time;
  bool requires_token = true;
  std::string error_class;   // classified reason; "" when none
  std::string error_detail;  // step, status, URL path (no PHI)
  int http_status = 0;
  int64_t throttled_since_ms = 0;  // when the current step began waiting out a throttling payer
};

enum class FileKind : int { kOutput = 0, kError = 1, kDeleted = 2 };
enum class FileState : int { kPending = 0, kDone = 1, kFailed = 2 };

struct FileRow {
  int64_t job_id = 0;
  int idx = 0;
  FileKind kind = FileKind::kOutput;
  std::string type;
  std::string url;
  FileState state = FileState::kPending;
  int64_t lines = 0;
  int64_t stored = 0;
  int64_t bad_lines = 0;
  int64_t bytes = 0;
  int64_t attempts = 0;
};

struct BadLine {
  int64_t line_no = 0;
  std::string reason;
};

// Committed length of an NDJSON store type (see store/resource_store.h StoreMark).
struct TypeMark {
  int64_t ndjson_end = -1;
  int64_t index_end = -1;
};

// Exports (export_db.cpp, migrations/004): the manifest facts of a job's current export.
struct ExportPage {
  int64_t expires_ms = 0;  // the complete status' Expires, unix ms; 0 = none
  std::string next_url;    // next manifest page still to read; "" = every page read
  int64_t pages = 0;       // manifest pages read so far
};

// One OperationOutcome issue of an error[] file line. `diagnostics` may hold PHI: it is written
// to the state DB and never read back for logs or reports.
struct ExportIssue {
  int64_t line_no = 0;  // 1-based line of the error file
  int issue_no = 0;     // 0-based issue within the line
  std::string severity;
  std::string code;
  std::string diagnostics;
};

struct ExportIssueCount {
  std::string severity;
  std::string code;
  int64_t count = 0;
};

struct PayerStateCount {
  std::string payer;
  JobState state;
  int64_t count;
};

// One payer's CMS-0057-F request deadlines (DeadlineReport). A member is requested when its first
// $member-match is sent (requested_ms); late means requested_ms / 1000 > deadline.
struct DeadlineCounts {
  std::string payer;
  int64_t on_time = 0;  // requested at or before the deadline (any state since)
  int64_t late = 0;     // requested after it, or active, not yet requested and deadline < now
  int64_t at_risk = 0;  // active, not yet requested, now <= deadline < now + at_risk_within
  friend bool operator==(const DeadlineCounts&, const DeadlineCounts&) = default;
};

// A statement for another connection to the same database (`$N` placeholders, text params).
struct SqlStatement {
  std::string sql;
  std::vector<std::string> params;
};

// The lease this process holds on a job (StateDb::LeaseOf).
struct LeaseRef {
  std::string owner;
  int64_t epoch = 0;
};

// One daemon process of a cluster sharing a PostgreSQL state (StateDb::JoinCluster).
struct InstanceInfo {
  std::string token;    // unique per process: "<instance.id>/<pid>/<start ms>"; the lease owner
  std::string name;     // instance.id (the host name by default)
  std::string host;
  int64_t pid = 0;
  std::string version;
  int64_t lease_ms = 30000;  // state.lease_timeout
};

// What a lease claim of one payer found (StateDb::ClaimRunnable).
struct Claim {
  std::vector<int64_t> ids;        // jobs to run now (SQLite: running ones included, see below)
  int64_t throttled_until_ms = 0;  // the payer throttles the cluster until then (0: it does not)
  int64_t cluster_running = 0;     // the payer's jobs leased by any instance (before this claim)
};

class StateDb {
 public:
  // Opens or creates the DB at `path` (0600, WAL, synchronous=NORMAL: each commit reaches the
  // WAL before it returns; the .cpp says why that keeps the crash rules), applies migrations, and
  // refuses a newer schema. A new (empty) DB is created with auto_vacuum=INCREMENTAL so that
  // Housekeep() can return freed pages to the file system; a DB created before that keeps its
  // mode (SQLite can only change it with a full VACUUM), and Housekeep's vacuum is then a no-op.
  static Result<std::unique_ptr<StateDb>> Open(const std::string& path);
  // The PostgreSQL state (PgConn::Open: connects, migrates under an advisory lock).
  static Result<std::unique_ptr<StateDb>> OpenPostgres(PgConnOptions options);
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  // --- intake ---
  // True when a source file of this name was already committed (crash between commit and move).
  Result<bool> SourceFileTaken(const std::string& name);
  // Inserts the file's members (skipping those with an active or complete job) and records the
  // file, in one transaction. The daemon's intake streams instead (state/file_intake.h).
  Result<IntakeCounts> TakeIn(const std::string& file_name, const std::vector<NewMember>& members,
                              int rows_bad, int64_t now_ms);
  // One member of `file_name` inside the caller's open Transaction (REQUIRES: one is open on
  // handle()): inserted unless an active or complete job exists; counted in `counts`.
  Result<void> InsertMemberInTransaction(const std::string& file_name, const NewMember& m,
                                         int64_t now_ms, IntakeCounts& counts);

  // --- scheduling ---
  // Ids of non-terminal jobs of `payer` with next_ms <= now, earliest deadline first.
  Result<std::vector<int64_t>> Runnable(const std::string& payer, int64_t now_ms, int limit);
  // Earliest next_ms among the payer's non-terminal jobs; nullopt when none.
  Result<std::optional<int64_t>> NextWake(const std::string& payer);
  // Earliest next_ms later than `after_ms` among the payer's non-terminal jobs (jobs due now,
  // running ones included, are left out); nullopt when none. One seek in members_wake.
  Result<std::optional<int64_t>> NextDue(const std::string& payer, int64_t after_ms);
  // Makes the payer's non-terminal jobs waiting with `error_class` (e.g. "auth" after a reload
  // with corrected credentials) due at `now_ms`. Returns how many.
  Result<int64_t> WakeWaiting(const std::string& payer, std::string_view error_class,
                              int64_t now_ms);
  // Number of non-terminal jobs (all payers), from member_counts: cost independent of the
  // number of members.
  Result<int64_t> ActiveCount();

  // --- jobs ---
  Result<Job> LoadJob(int64_t id);
  // Writes every mutable field of `job`; records an event when job.state != previous.
  // REQUIRES: `previous` is the job's state in the DB; if it is not (an operator cancelled or
  // requeued the job meanwhile) nothing is written and kCancelled is returned.
  Result<void> SaveJob(const Job& job, JobState previous, int64_t now_ms);
  // Replaces the job's file list and saves the job, in one transaction.
  Result<void> SaveManifest(const Job& job, JobState previous, const std::vector<FileRow>& files,
                            int64_t now_ms);
  // SaveJob inside the caller's open Transaction (REQUIRES: one is open on handle()), for steps
  // that change other rows in the same commit (bulk_match_db.cpp). Same kCancelled rule.
  Result<void> SaveJobInTransaction(const Job& job, JobState previous, int64_t now_ms);
  Result<std::vector<FileRow>> LoadFiles(int64_t job_id);
  // Marks a file done with its counts, bad lines and (NDJSON store) the type's new mark, in one
  // transaction.
  Result<void> FileDone(const FileRow& file, const std::vector<BadLine>& bad,
                        const std::optional<std::pair<std::string, TypeMark>>& mark);
  Result<void> SaveFileAttempts(int64_t job_id, int idx, int64_t attempts);

  // --- exports (implemented in export_db.cpp) ---
  // Replaces the job's file list with `files` (a manifest's first page; none on a re-kick),
  // forgets the issues recorded from the previous export's error files, records `page` and
  // saves the job, in one transaction. REQUIRES as for SaveJob.
  Result<void> SaveFirstManifestPage(const Job& job, JobState previous,
                                     const std::vector<FileRow>& files, const ExportPage& page,
                                     int64_t now_ms);
  // Appends a further manifest page's `files` (idx continuing the list), records `page` and
  // saves the job, in one transaction.
  Result<void> AppendManifestPage(const Job& job, JobState previous,
                                  const std::vector<FileRow>& files, const ExportPage& page,
                                  int64_t now_ms);
  // The job's ExportPage (all defaults when none was recorded).
  Result<ExportPage> LoadExportPage(int64_t job_id);
  // Marks an error[] file done (counts as in FileDone) with its issues, in one transaction.
  Result<void> ErrorFileDone(const FileRow& file, const std::vector<ExportIssue>& issues,
                             const std::vector<BadLine>& bad);
  // Issues recorded for the job, counted by (severity, code), ordered by severity then code.
  Result<std::vector<ExportIssueCount>> ExportIssueCounts(int64_t job_id);

  // --- store marks ---
  Result<std::map<std::string, TypeMark>> StoreMarks();
  Result<void> ReplaceStoreMarks(const std::map<std::string, TypeMark>& marks);

  // --- reporting ---
  // Both read member_counts (kept by triggers, migrations/002): cost independent of the number
  // of members. CountByPayerState lists only (payer, state) pairs with a non-zero count, ordered
  // by payer then state.
  Result<std::array<int64_t, kJobStateCount>> CountByState();
  Result<std::vector<PayerStateCount>> CountByPayerState();
  // Members not yet requested (no $member-match sent) whose deadline is before `unix_s`.
  Result<int64_t> CountDeadlineBefore(int64_t unix_s, bool requested);
  Result<int64_t> BadLineCount();
  // Per payer on-time / late / at-risk members (see DeadlineCounts), ordered by payer; payers
  // with all three counts 0 are left out. Reads the counts that migrations/007_deadlines.sql's
  // triggers keep (deadline_db.cpp): cost grows with payers x days with waiting members, never
  // with the number of members. REQUIRES: at_risk_within_s >= 0.
  Result<std::vector<DeadlineCounts>> DeadlineReport(int64_t now_s, int64_t at_risk_within_s);
  // The SQL DeadlineReport runs (for query-plan tests).
  static std::vector<std::string_view> DeadlineQueries();
  // The SQL of the lease claim (ClaimRunnable: live leases, claim) and of RenewLeases, for
  // query-plan tests. Parameters: ?1 payer (renewal: owner), ?2 now (renewal: lease end), ?3
  // limit, ?4 owner, ?5 lease end.
  static std::vector<std::string_view> ClusterQueries();
  // The SQL of Runnable, NextWake and NextDue, for query-plan tests. Parameters: ?1 payer, ?2
  // now (NextDue: after), ?3 limit.
  static std::vector<std::string_view> SchedulerQueries();

  // --- housekeeping ---
  // Trims complete jobs with completed_ms < older_than_ms: deletes their `files` and `bad_lines`
  // rows; the members row and its events stay as the job's summary. Works in transactions of at
  // most `max_jobs` jobs (REQUIRES: max_jobs > 0) so the loop thread is never blocked long, then
  // runs PRAGMA incremental_vacuum to give the freed pages back (no-op on a DB without
  // auto_vacuum=INCREMENTAL, see Open). Returns the number of jobs trimmed (0 when nothing was
  // left to trim, so calling it again is cheap and idempotent). Cost: one pass over the ids of
  // complete jobs (members_state index) plus the rows deleted.
  Result<int64_t> Housekeep(int64_t older_than_ms, int max_jobs);

  // --- cluster (implemented in cluster_db.cpp) ---
  // With the PostgreSQL state several daemons share the jobs: each runs a job only under a lease
  // (lease_owner = its token, lease_until_ms, and lease_epoch bumped at every claim). A lease
  // this process holds is remembered here, and every write of that job (SaveJob and the other
  // job saves, FileDone, ErrorFileDone, SaveFileAttempts, the lifecycle's DeletedFileDone) checks
  // in its transaction that the lease is still this process's (owner and epoch): an instance
  // paused past its lease, whose job another instance took, gets kLeaseLost and writes nothing.
  // With SQLite (one daemon) there are no leases: these calls give the single-instance answers.
  bool clustered() const { return db_->dialect() == Dialect::kPostgres; }
  // Announces this process in `instances` and makes sure every payer has its cluster row.
  Result<void> JoinCluster(const InstanceInfo& me, const std::vector<std::string>& payers,
                           int64_t now_ms);
  // A clean stop: every lease of this process released, stopped_ms recorded.
  Result<void> LeaveCluster(int64_t now_ms);
  // Takes up to `limit` runnable jobs of `payer` (not yet terminal, next_ms <= now, no live
  // lease, not run by this process: a job whose lease it lost stays out until ReleaseLease ends
  // that run), earliest deadline first, leasing them to this process for lease_ms, such that the
  // payer's leases over the whole cluster stay within `concurrency`. Claims of one payer are
  // serialized by a lock on its payer_cluster row; FOR UPDATE SKIP LOCKED passes over jobs an
  // operator's command holds. SQLite: Runnable(payer, now, limit + running) (the caller skips
  // those it runs).
  Result<Claim> ClaimRunnable(const std::string& payer, int64_t now_ms, int limit,
                              int concurrency, int running);
  // Gives the job's lease back (its run ended: it waits or is terminal). No-op without one, or
  // when the run already found it lost. kLeaseLost when another instance took the job since the
  // run's last write (nothing written).
  Result<void> ReleaseLease(int64_t job_id);
  // Extends every live lease of this process to now + lease_ms and renews the heartbeat; the
  // leases that lapsed (taken by another instance meanwhile or not) are lost: the job's next
  // write gets kLeaseLost. Returns the leases held.
  Result<int64_t> RenewLeases(int64_t now_ms);
  // Instances whose heartbeat is younger than their lease timeout (1 with SQLite).
  Result<int64_t> LiveInstances(int64_t now_ms);
  // The payer throttles (until `until_ms`): every instance holds it back until then.
  Result<void> ShareThrottle(const std::string& payer, int64_t until_ms);
  // PostgreSQL: folds the counters' deltas (migrations/postgres-state/001: member_count_deltas,
  // deadline_*_deltas) into one row per key, so /status reads a few rows per payer. No-op with
  // SQLite (its triggers keep one row per key).
  Result<void> CompactCounters();
  // Wakes the cluster's schedulers for `payer` ("" = every payer): PostgreSQL NOTIFY on channel
  // kWakeChannel, delivered when the caller's transaction commits (at once outside one). Called
  // after new members, an operator's retry or cancel. No-op with SQLite (one daemon, which wakes
  // itself).
  Result<void> Notify(const std::string& payer);
  static constexpr const char* kWakeChannel = "p2p_wake";
  // Leases this process holds (status, metrics).
  int64_t leases_held() const;
  // This process's lease owner token ("" before JoinCluster).
  const std::string& instance_token() const { return me_.token; }
  // The lease this process holds on `job_id` (nullopt: none, or lost; always with SQLite).
  std::optional<LeaseRef> LeaseOf(int64_t job_id) const;
  // What FileDone writes, as statements for the PostgreSQL store to run in the transaction that
  // commits the file's rows when it shares the state's database (FileWriter::CommitWith):
  // schema-qualified, so the store's connection needs no search_path. Empty with SQLite.
  std::vector<SqlStatement> FileDoneStatements(const FileRow& file,
                                               const std::vector<BadLine>& bad) const;
  // REQUIRES: inside a transaction (for a write it guards). kLeaseLost when this process leased
  // `job_id` and no longer holds it; Ok when it holds it, or never leased it (operator commands,
  // SQLite). Locks the job's row (FOR SHARE) until the transaction ends, so no claim can slip in
  // before the commit. Outside a transaction it only tells whether the lease is still held.
  Result<void> CheckLease(int64_t job_id);

  // Checkpoints the WAL (shutdown).
  void Checkpoint();

  Conn* handle() { return db_; }
  Dialect dialect() const { return db_->dialect(); }

 private:
  explicit StateDb(std::unique_ptr<Conn> conn) : conn_(std::move(conn)), db_(conn_.get()) {}
  Result<void> PrepareAll();
  // Writes the job row and its transition event; REQUIRES: inside a transaction.
  Result<void> WriteJob(const Job& job, JobState previous, int64_t now_ms);
  // Inserts `files` as job `job_id`'s manifest rows; REQUIRES: inside a transaction.
  Result<void> InsertFiles(int64_t job_id, const std::vector<FileRow>& files);

  std::unique_ptr<Conn> conn_;  // declared first: destroyed after the statements
  Conn* db_;
  InstanceInfo me_;                   // set by JoinCluster
  // Job id -> lease epoch of the leases this process took; kLost once another instance took one.
  static constexpr int64_t kLost = -1;
  std::map<int64_t, int64_t> leases_;
  // After a terminal save (the lease went with it) or a release.
  void ForgetLease(int64_t job_id);
  Stmt load_job_, save_job_, insert_event_, runnable_, next_wake_, next_due_, insert_member_,
      find_active_, insert_file_, delete_files_, load_files_, file_done_, insert_bad_,
      file_attempts_, upsert_mark_;
};

}  // namespace p2p::state
