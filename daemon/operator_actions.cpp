// Operator commands that write: retry, cancel (the state DB, one transaction each) and enqueue
// (the source inbox; with a PostgreSQL state, the state itself). After a change a cluster's
// daemons are woken (StateDb::Notify; a no-op with SQLite). See operator_cli.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "operator_cli.h"
#include "operator_commands.h"
#include "fhir/ndjson.h"
#include "pipeline/member_intake.h"
#include "source/member_file.h"
#include "state/bulk_match_db.h"
#include "state/sql.h"

namespace p2p::daemon {

namespace {

namespace fs = std::filesystem;

constexpr uintmax_t kMaxSourceFileBytes = uintmax_t{1} << 30;  // as the directory source

struct JobRef {
  int64_t id = 0;
  std::string member_key;
  std::string payer;
  JobState state = JobState::kPending;
};

std::string Describe(const JobRef& j) {
  return "job " + std::to_string(j.id) + " (member " + j.member_key + ", payer " + j.payer + ")";
}

// Jobs of a member (optionally one payer), oldest first.
Result<std::vector<JobRef>> JobsOf(state::Conn* db, const std::string& key, const std::string& payer) {
  auto st = state::Stmt::Prepare(
      db, payer.empty() ? "SELECT id, member_key, payer, state FROM members WHERE member_key=?1 "
                          "ORDER BY id"
                        : "SELECT id, member_key, payer, state FROM members WHERE member_key=?1 "
                          "AND payer=?2 ORDER BY id");
  if (!st) return std::move(st).error();
  st->Bind(1, key);
  if (!payer.empty()) st->Bind(2, payer);
  std::vector<JobRef> jobs;
  for (;;) {
    auto row = st->Step("jobs of member");
    if (!row) return std::move(row).error();
    if (!*row) break;
    jobs.push_back(JobRef{st->Int(0), st->Text(1), st->Text(2), static_cast<JobState>(st->Int(3))});
  }
  return jobs;
}

// Only the newest job of each payer matters: older ones are history.
std::vector<JobRef> NewestPerPayer(const std::vector<JobRef>& jobs) {
  std::vector<JobRef> newest;
  for (const JobRef& j : jobs) {
    auto it = std::find_if(newest.begin(), newest.end(),
                           [&](const JobRef& n) { return n.payer == j.payer; });
    if (it == newest.end()) {
      newest.push_back(j);
    } else {
      *it = j;  // ordered by id
    }
  }
  return newest;
}

// Wakes the cluster's schedulers for each payer of `jobs` (delivered at the caller's commit).
Result<void> NotifyPayers(state::StateDb& db, const std::vector<JobRef>& jobs) {
  std::set<std::string> payers;
  for (const JobRef& j : jobs) payers.insert(j.payer);
  for (const std::string& p : payers) {
    if (auto r = db.Notify(p); !r) return r;
  }
  return Ok();
}

// Writes the state change and its event. REQUIRES: inside a transaction.
class JobWriter {
 public:
  static Result<JobWriter> Prepare(state::Conn* db) {
    JobWriter w;
    // Back to the start: the export is requested again, so the manifest and its bad lines go.
    // requested_ms (the first $member-match, for the SLA) and created_ms stay.
    auto requeue = state::Stmt::Prepare(
        db,
        "UPDATE members SET state=0, updated_ms=?2, next_ms=0, attempts=0, completed_ms=NULL, "
        "group_id=NULL, member_identifier=NULL, poll_url=NULL, export_started_ms=NULL, polls=0, "
        "rekicks=0, expired_rekicks=0, transaction_time=NULL, requires_token=1, "
        "error_class=NULL, error_detail=NULL, http_status=NULL WHERE id=?1");
    if (!requeue) return std::move(requeue).error();
    auto cancel = state::Stmt::Prepare(
        db,
        "UPDATE members SET state=11, updated_ms=?2, error_class='cancelled', "
        "error_detail='cancelled by operator', http_status=NULL WHERE id=?1");
    if (!cancel) return std::move(cancel).error();
    auto files = state::Stmt::Prepare(db, "DELETE FROM files WHERE job_id=?1");
    if (!files) return std::move(files).error();
    auto bad = state::Stmt::Prepare(db, "DELETE FROM bad_lines WHERE job_id=?1");
    if (!bad) return std::move(bad).error();
    auto event = state::Stmt::Prepare(
        db,
        "INSERT INTO events(job_id, at_ms, from_state, to_state, error_class) "
        "VALUES (?1, ?2, ?3, ?4, NULLIF(?5,''))");
    if (!event) return std::move(event).error();
    auto other = state::Stmt::Prepare(
        db,
        "SELECT id FROM members WHERE member_key=?1 AND payer=?2 AND state<=6 AND id<>?3 LIMIT 1");
    if (!other) return std::move(other).error();
    w.requeue_ = std::move(*requeue);
    w.cancel_ = std::move(*cancel);
    w.files_ = std::move(*files);
    w.bad_ = std::move(*bad);
    w.event_ = std::move(*event);
    w.other_ = std::move(*other);
    return w;
  }

  // Id of another active or complete job of the same (member_key, payer), 0 when none: the
  // schema allows one, so the job cannot be requeued beside it.
  Result<int64_t> OtherLiveJob(const JobRef& j) {
    other_.Bind(1, j.member_key).Bind(2, j.payer).Bind(3, j.id);
    auto row = other_.Step("find live job");
    if (!row) return std::move(row).error();
    const int64_t id = *row ? other_.Int(0) : 0;
    other_.Reset();
    return id;
  }

  Result<void> Requeue(const JobRef& j, int64_t now_ms) {
    if (auto r = requeue_.Bind(1, j.id).Bind(2, now_ms).Run("requeue job"); !r) return r;
    if (auto r = files_.Bind(1, j.id).Run("requeue: drop files"); !r) return r;
    if (auto r = bad_.Bind(1, j.id).Run("requeue: drop bad lines"); !r) return r;
    return Event(j, JobState::kPending, "", now_ms);
  }

  Result<void> Cancel(const JobRef& j, int64_t now_ms) {
    if (auto r = cancel_.Bind(1, j.id).Bind(2, now_ms).Run("cancel job"); !r) return r;
    return Event(j, JobState::kCancelled, "cancelled", now_ms);
  }

 private:
  Result<void> Event(const JobRef& j, JobState to, std::string_view error_class, int64_t now_ms) {
    return event_.Bind(1, j.id)
        .Bind(2, now_ms)
        .Bind(3, static_cast<int64_t>(j.state))
        .Bind(4, static_cast<int64_t>(to))
        .Bind(5, error_class)
        .Run("record transition");
  }

  state::Stmt requeue_, cancel_, files_, bad_, event_, other_;
};

bool RetryableByState(JobState s) { return s == JobState::kFailed || s == JobState::kCancelled; }

// An operator naming the member may also overrule a "never retried automatically" outcome.
bool RetryableByKey(JobState s) {
  return RetryableByState(s) || s == JobState::kNoMatch || s == JobState::kConsentRefused;
}

int RetryByState(const OperatorArgs& a, state::StateDb& db, JobWriter& w, const OperatorIo& io,
                 std::vector<JobRef>& changed) {
  const JobState s = *ParseJobState(a.state);
  if (!RetryableByState(s)) {
    std::fprintf(io.err,
                 "retry --state takes failed or cancelled; name no_match or consent_refused "
                 "members one by one (retry MEMBER_KEY)\n");
    return kOpExitUsage;
  }
  auto st = state::Stmt::Prepare(
      db.handle(), a.payer.empty() ? "SELECT id, member_key, payer FROM members WHERE state=?1 "
                                     "ORDER BY id"
                                   : "SELECT id, member_key, payer FROM members WHERE state=?1 "
                                     "AND payer=?2 ORDER BY id");
  if (!st) return DbFailed(io, st.error());
  st->Bind(1, static_cast<int64_t>(s));
  if (!a.payer.empty()) st->Bind(2, a.payer);
  std::vector<JobRef> jobs;
  for (;;) {
    auto row = st->Step("retry: select jobs");
    if (!row) return DbFailed(io, row.error());
    if (!*row) break;
    jobs.push_back(JobRef{st->Int(0), st->Text(1), st->Text(2), s});
  }
  int64_t done = 0, skipped = 0;
  for (const JobRef& j : jobs) {
    auto other = w.OtherLiveJob(j);
    if (!other) return DbFailed(io, other.error());
    if (*other != 0) {
      std::fprintf(io.out, "%s: skipped, job %lld is active or complete\n", Describe(j).c_str(),
                   static_cast<long long>(*other));
      ++skipped;
      continue;
    }
    if (auto r = w.Requeue(j, io.now_ms); !r) return DbFailed(io, r.error());
    changed.push_back(j);
    ++done;
  }
  std::fprintf(io.out, "requeued %lld %s jobs%s%s", static_cast<long long>(done),
               a.state.c_str(), a.payer.empty() ? "" : " of payer ", a.payer.c_str());
  if (skipped > 0) std::fprintf(io.out, " (%lld skipped)", static_cast<long long>(skipped));
  std::fprintf(io.out, "\n");
  return kOpExitOk;
}

int RetryByKey(const OperatorArgs& a, state::StateDb& db, JobWriter& w, const OperatorIo& io,
               std::vector<JobRef>& changed) {
  auto jobs = JobsOf(db.handle(), a.target, a.payer);
  if (!jobs) return DbFailed(io, jobs.error());
  if (jobs->empty()) {
    std::fprintf(io.err, "no job for member %s\n", a.target.c_str());
    return kOpExitNoMember;
  }
  int done = 0;
  for (const JobRef& j : NewestPerPayer(*jobs)) {
    const std::string name(JobStateName(j.state));
    if (j.state == JobState::kConsentExpired) {
      std::fprintf(io.err,
                   "%s is consent_expired: enqueue a row with the renewed consent instead\n",
                   Describe(j).c_str());
      continue;
    }
    if (!RetryableByKey(j.state)) {
      std::fprintf(io.err, "%s is %s: nothing to retry\n", Describe(j).c_str(), name.c_str());
      continue;
    }
    auto other = w.OtherLiveJob(j);
    if (!other) return DbFailed(io, other.error());
    if (*other != 0) {
      std::fprintf(io.err, "%s: job %lld is active or complete\n", Describe(j).c_str(),
                   static_cast<long long>(*other));
      continue;
    }
    if (auto r = w.Requeue(j, io.now_ms); !r) return DbFailed(io, r.error());
    std::fprintf(io.out, "%s: %s -> pending\n", Describe(j).c_str(), name.c_str());
    changed.push_back(j);
    ++done;
  }
  return done > 0 ? kOpExitOk : kOpExitDataErr;
}

}  // namespace

int CmdRetry(const OperatorArgs& a, state::StateDb& db, const OperatorIo& io) {
  state::Transaction tx(db.handle());
  if (auto r = tx.Begin(); !r) return DbFailed(io, r.error());
  auto w = JobWriter::Prepare(db.handle());
  if (!w) return DbFailed(io, w.error());
  std::vector<JobRef> changed;
  const int code = a.target.empty() ? RetryByState(a, db, *w, io, changed)
                                    : RetryByKey(a, db, *w, io, changed);
  if (code != kOpExitOk) return code;  // nothing written, or rolled back
  if (auto r = NotifyPayers(db, changed); !r) return DbFailed(io, r.error());
  if (auto r = tx.Commit(); !r) return DbFailed(io, r.error());
  return code;
}

int CmdCancel(const OperatorArgs& a, state::StateDb& db, const OperatorIo& io) {
  state::Transaction tx(db.handle());
  if (auto r = tx.Begin(); !r) return DbFailed(io, r.error());
  auto w = JobWriter::Prepare(db.handle());
  if (!w) return DbFailed(io, w.error());
  auto jobs = JobsOf(db.handle(), a.target, a.payer);
  if (!jobs) return DbFailed(io, jobs.error());
  if (jobs->empty()) {
    std::fprintf(io.err, "no job for member %s\n", a.target.c_str());
    return kOpExitNoMember;
  }
  std::vector<JobRef> changed;
  for (const JobRef& j : *jobs) {
    if (IsTerminal(j.state)) continue;
    if (auto r = w->Cancel(j, io.now_ms); !r) return DbFailed(io, r.error());
    // The poll URL stays: the daemon (which holds the credentials) sends the Bulk Data DELETE
    // for it (payers[].export.cancel_with_delete) and then forgets it.
    const bool exporting = j.state == JobState::kPolling || j.state == JobState::kDownloading;
    std::fprintf(io.out, "%s: %s -> cancelled%s\n", Describe(j).c_str(),
                 std::string(JobStateName(j.state)).c_str(),
                 exporting ? "; the daemon cancels its export at the payer" : "");
    changed.push_back(j);
  }
  if (changed.empty()) {
    const JobRef& last = jobs->back();
    std::fprintf(io.err, "member %s has no job in progress (newest: %s is %s)\n",
                 a.target.c_str(), Describe(last).c_str(),
                 std::string(JobStateName(last.state)).c_str());
    return kOpExitDataErr;
  }
  if (auto r = tx.Commit(); !r) return DbFailed(io, r.error());
  return kOpExitOk;
}

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Copies `text` to dir/name through a dot-named temporary (ignored by the directory source),
// fsynced, then linked into place (link fails on an existing name: nothing is overwritten).
Result<void> PlaceAtomically(const fs::path& dir, const std::string& name, std::string_view text) {
  const fs::path tmp = dir / ("." + name + "." + std::to_string(::getpid()) + ".tmp");
  const fs::path final_path = dir / name;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorKind::kIo, Errno("create", tmp.string()));
  struct stat dst {};
  // Run as root: hand the file to the inbox's owner, or the daemon's user could not read it.
  if (::geteuid() == 0 && ::stat(dir.c_str(), &dst) == 0) {
    if (::fchown(fd, dst.st_uid, dst.st_gid) != 0) { /* best effort; the rename still works */ }
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = MakeError(ErrorKind::kIo, Errno("write", tmp.string()));
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    Error e = MakeError(ErrorKind::kIo, Errno("fsync", tmp.string()));
    ::unlink(tmp.c_str());
    return e;
  }
  if (::link(tmp.c_str(), final_path.c_str()) != 0) {
    Error e = MakeError(ErrorKind::kIo, Errno("link", final_path.string()));
    ::unlink(tmp.c_str());
    return e;
  }
  ::unlink(tmp.c_str());
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Ok();
}

// `enqueue` with a PostgreSQL state: the rows go straight into the shared state, as the
// directory source takes an inbox file (pipeline/member_intake.h TakeInRows: committed batches,
// lifecycle rows and revocations, the name recorded as taken), so a file handed in on any host
// reaches every daemon of the cluster, which are woken for its payers. A run that is interrupted
// resumes after its last committed batch when started again on the same, unchanged file.
int EnqueueIntoState(const std::string& file, const std::string& name, std::string_view text,
                     bool ndjson, const std::vector<std::string>& payers, const Options& options,
                     state::StateDb& db, const OperatorIo& io) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    std::fprintf(io.err, "%s: cannot read\n", file.c_str());
    return kOpExitNoMember;
  }
  const source::MemberFileIdentity id{
      static_cast<int64_t>(st.st_size),
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  std::set<std::string> touched;
  auto rows = [&](const source::RowVisitor& visitor) {
    source::RowVisitor v = visitor;
    v.row = [&](uint64_t line, MemberRow&& row, size_t consumed) {
      touched.insert(row.prior_payer);
      return visitor.row(line, std::move(row), consumed);
    };
    return ndjson ? source::VisitMemberNdjson(text, payers, v)
                  : source::VisitMemberCsv(text, payers, v);
  };
  auto taken = pipeline::TakeInRows(db, name, id, rows, options.consent, io.now_ms);
  if (!taken) return DbFailed(io, taken.error());
  for (const std::string& payer : touched) {
    if (auto r = db.Notify(payer); !r) return DbFailed(io, r.error());
  }
  std::fprintf(io.out,
               "%s: %d members enqueued into the state DB %s (%d new jobs, %d with an active or "
               "complete job already)",
               file.c_str(), taken->counts.inserted + taken->counts.already_known,
               StateLocation(options.state).c_str(), taken->counts.inserted,
               taken->counts.already_known);
  if (taken->problems > 0) std::fprintf(io.out, " (%zu problems, listed above)", taken->problems);
  std::fprintf(io.out, "\n");
  return kOpExitOk;
}

}  // namespace

int CmdEnqueue(const OperatorArgs& a, const Options& options, state::StateDb* db,
               const OperatorIo& io) {
  const std::string& file = a.target;
  const std::string name = fs::path(file).filename().string();
  const bool ndjson = EndsWith(name, ".ndjson");
  if (!ndjson && !EndsWith(name, ".csv")) {
    std::fprintf(io.err, "%s: the source takes only *.csv and *.ndjson files\n", file.c_str());
    return kOpExitUsage;
  }
  if (name.front() == '.' || name.front() == '~') {
    std::fprintf(io.err, "%s: names starting with '.' or '~' are ignored by the source\n",
                 file.c_str());
    return kOpExitUsage;
  }
  std::error_code ec;
  const uintmax_t size = fs::file_size(file, ec);
  std::ifstream in(file, std::ios::binary);
  if (ec || !in) {
    std::fprintf(io.err, "%s: cannot read\n", file.c_str());
    return kOpExitNoMember;
  }
  if (size > kMaxSourceFileBytes) {
    std::fprintf(io.err, "%s:0: file larger than 1 GiB\n", file.c_str());
    return kOpExitDataErr;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = std::move(buf).str();
  std::vector<std::string> payers;
  for (const auto& p : options.payers) payers.push_back(p.id);
  const source::ParsedMembers parsed =
      ndjson ? source::ParseMemberNdjson(text, payers) : source::ParseMemberCsv(text, payers);
  for (const RowProblem& p : parsed.problems) {
    std::fprintf(io.err, "%s:%llu: %s%s%s\n", file.c_str(), static_cast<unsigned long long>(p.line),
                 p.field.c_str(), p.field.empty() ? "" : ": ", p.reason.c_str());
  }
  if (parsed.rows.empty()) {
    std::fprintf(io.err, "%s: no good rows; nothing enqueued\n", file.c_str());
    return kOpExitDataErr;
  }
  if (!parsed.problems.empty() && !a.accept_partial) {
    std::fprintf(io.err,
                 "%s: %zu problems; nothing enqueued (fix the rows, or --accept-partial to enqueue "
                 "the %zu good rows)\n",
                 file.c_str(), parsed.problems.size(), parsed.rows.size());
    return kOpExitDataErr;
  }
  // The daemon takes a file name in once: a second file of the same name would be skipped.
  if (db != nullptr) {
    auto taken = db->SourceFileTaken(name);
    if (!taken) return DbFailed(io, taken.error());
    if (*taken) {
      std::fprintf(io.err, "%s: a file named %s was already taken in; rename it\n", file.c_str(),
                   name.c_str());
      return kOpExitDataErr;
    }
  }
  const fs::path inbox(options.source.path);
  if (!inbox.empty() && fs::exists(inbox / name, ec)) {
    std::fprintf(io.err, "%s: %s is already waiting in the inbox; rename it\n", file.c_str(),
                 name.c_str());
    return kOpExitDataErr;
  }
  if (db != nullptr && db->clustered()) {
    return EnqueueIntoState(file, name, text, ndjson, payers, options, *db, io);
  }
  if (auto r = PlaceAtomically(inbox, name, text); !r) {
    std::fprintf(io.err, "source.path: %s\n", r.error().message.c_str());
    return kOpExitSoftware;
  }
  std::fprintf(io.out, "%s: %zu members enqueued as %s", file.c_str(), parsed.rows.size(),
               (inbox / name).c_str());
  if (!parsed.problems.empty()) {
    std::fprintf(io.out, " (%zu problems; the daemon writes them to rejected/%s.errors)",
                 parsed.problems.size(), name.c_str());
  }
  std::fprintf(io.out, "\n");
  return kOpExitOk;
}

// `export --payer ID --group GROUP_ID`: queues an operator's export of a known Group
// (state/bulk_match_db.h EnqueueGroupExport); the daemon picks it up at its next pass.
int CmdExport(const OperatorArgs& a, const Options& options, state::StateDb& db,
              const OperatorIo& io) {
  const bool known = std::any_of(options.payers.begin(), options.payers.end(),
                                 [&](const PayerOptions& p) { return p.id == a.payer; });
  if (!known) {
    std::fprintf(io.err, "export: --payer %s: not a configured payer id\n", a.payer.c_str());
    return kOpExitDataErr;
  }
  if (!fhir::IsFhirId(a.group)) {
    std::fprintf(io.err, "export: --group: not a FHIR id ([A-Za-z0-9.-]{1,64})\n");
    return kOpExitDataErr;
  }
  auto id = state::BulkMatchDb(db).EnqueueGroupExport(a.payer, a.group, io.now_ms);
  if (!id && id.error().kind == ErrorKind::kInvalid) {
    std::fprintf(io.err, "export: %s\n", id.error().message.c_str());
    return kOpExitDataErr;
  }
  if (!id) return DbFailed(io, id.error());
  if (auto r = db.Notify(a.payer); !r) return DbFailed(io, r.error());
  std::fprintf(io.out, "queued export of Group %s at %s as job %lld (member_key group:%s)\n",
               a.group.c_str(), a.payer.c_str(), static_cast<long long>(*id), a.group.c_str());
  return kOpExitOk;
}

}  // namespace p2p::daemon
