#include "store/pg_writer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>

namespace p2p::store {

pg::PgMigrations StoreMigrations() {
  return {&EmbeddedPgStoreMigrations(), "store", "store.schema"};
}
namespace {

constexpr char kCopyHeader[] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";  // signature, flags, ext
constexpr size_t kCopyHeaderLen = 19;
constexpr char kCopyTrailer[] = "\377\377";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void PutU32(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}

void PutField(std::string& out, std::string_view v) {
  PutU32(out, static_cast<uint32_t>(v.size()));
  out.append(v);
}

// True when `line` holds the JSON escape \u0000 (a backslash preceded by an even number of
// backslashes), which PostgreSQL's jsonb refuses.
bool HasNulEscape(std::string_view line) {
  size_t at = 0;
  while ((at = line.find("u0000", at)) != std::string_view::npos) {
    size_t slashes = 0;
    while (slashes < at && line[at - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 1) return true;
    at += 5;
  }
  return false;
}

Error LostRows() {
  return MakeError(ErrorKind::kUnavailable,
                   "the connection to the server was lost with rows of this file staged");
}

}  // namespace

PgWriter::PgWriter(StoreOptions options, PgWriterTuning tuning)
    : options_(std::move(options)), tuning_(tuning), filling_(std::make_unique<Buffer>()) {
  thread_ = std::thread([this] { Run(); });
}

PgWriter::~PgWriter() {
  if (!filling_->segments.empty()) Submit();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Result<int> PgWriter::Connect() {
  auto r = Call([](PgSession&) -> Result<void> { return Ok(); });
  Enqueue(Task{nullptr, [this] { opened_ = true; }});
  if (!r) return std::move(r).error();
  return schema_version_.load();
}

Result<void> PgWriter::Add(const std::shared_ptr<PgFile>& file, std::string_view member_key,
                           std::string_view id, std::string_view line) {
  if (const int kind = file->failed_kind.load(std::memory_order_relaxed); kind != 0) {
    return MakeError(static_cast<ErrorKind>(kind), "an earlier write of this file failed");
  }
  if (HasNulEscape(line)) {
    return MakeError(ErrorKind::kInvalid,
                     "resource " + std::string(id) +
                         " holds a \\u0000 escape, which PostgreSQL's jsonb cannot store");
  }
  Buffer& b = *filling_;
  if (b.segments.empty() || b.segments.back().file != file) b.segments.push_back({file, 0, 0});
  std::string& out = b.bytes;
  out.append("\0\4\0\0\0\10", 6);  // 4 fields; the tag: 8 bytes
  const auto tag = static_cast<uint64_t>(file->tag);
  PutU32(out, static_cast<uint32_t>(tag >> 32));
  PutU32(out, static_cast<uint32_t>(tag));
  PutField(out, member_key);
  PutField(out, id);
  PutU32(out, static_cast<uint32_t>(line.size() + 1));
  out.push_back('\1');  // jsonb's binary format: version 1, then the text
  out.append(line);
  Segment& seg = b.segments.back();
  seg.end = out.size();
  seg.line_bytes += static_cast<int64_t>(line.size());
  if (static_cast<int64_t>(out.size()) >= tuning_.handoff_bytes) Submit();
  return Ok();
}

void PgWriter::Submit() {
  std::unique_ptr<Buffer> full = std::move(filling_);
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return queued_buffers_ < 2; });
    ++queued_buffers_;
    queue_.push_back(Task{std::move(full), nullptr});
    if (!spare_.empty()) {
      filling_ = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  cv_.notify_all();
  if (!filling_) filling_ = std::make_unique<Buffer>();
}

void PgWriter::Enqueue(Task task) {
  if (!filling_->segments.empty()) Submit();
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void PgWriter::Commit(std::shared_ptr<PgFile> file, std::vector<CommitStatement> on_commit,
                      std::function<void(Result<StoreMark>)> done) {
  Enqueue(Task{nullptr, [this, file = std::move(file), on_commit = std::move(on_commit),
                         done = std::move(done)]() mutable {
                 PgFile& f = *file;
                 f.on_commit = std::move(on_commit);
                 // The last merge carries the file's end (on_commit); with nothing left to
                 // merge, a transaction of its own does.
                 if (!f.error && (f.staged_rows > 0 || !f.on_commit.empty())) Merge(f);
                 if (f.error) return done(*f.error);
                 done(StoreMark{f.ctx.type, -1, -1, -1});
               }});
}

void PgWriter::Abort(std::shared_ptr<PgFile> file) {
  Enqueue(Task{nullptr, [this, file = std::move(file)] {
                 PgFile& f = *file;
                 const bool staged = !f.error && f.staged_rows > 0 && f.generation == generation_ &&
                                     session_.connected();
                 f.error = MakeError(ErrorKind::kCancelled, "file aborted");
                 f.failed_kind.store(static_cast<int>(ErrorKind::kCancelled));
                 if (staged && EndCopy()) DropStaged(f);
               }});
}

void PgWriter::Drain() {
  std::promise<void> done;
  Enqueue(Task{nullptr, [&] { done.set_value(); }});
  done.get_future().get();
}

Result<void> PgWriter::Call(const std::function<Result<void>(PgSession&)>& fn) {
  std::promise<Result<void>> result;
  Enqueue(Task{nullptr, [&] {
                 Result<void> out = Ok();
                 for (int attempt = 0; attempt < 2; ++attempt) {
                   const bool was_connected = session_.connected();
                   out = EndCopy();
                   if (out) out = EnsureSession();
                   if (out) out = fn(session_);
                   if (out || out.error().kind != ErrorKind::kUnavailable) break;
                   LoseSession();
                   if (!was_connected) break;  // a fresh connection failed: do not insist
                 }
                 result.set_value(std::move(out));
               }});
  return result.get_future().get();
}

void PgWriter::ReturnBuffer(std::unique_ptr<Buffer> b) {
  b->bytes.clear();
  b->segments.clear();
  std::lock_guard lock(mu_);
  --queued_buffers_;
  if (spare_.size() < 2) spare_.push_back(std::move(b));
}

void PgWriter::Run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stop_ and nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    if (task.rows) {
      ApplyBuffer(*task.rows);
      ReturnBuffer(std::move(task.rows));
      cv_.notify_all();
    } else {
      task.call();
    }
  }
  (void)EndCopy();
  session_.Close();
}

void PgWriter::ApplyBuffer(Buffer& b) {
  size_t begin = 0;
  for (Segment& s : b.segments) {
    ApplySegment(s.file, std::string_view(b.bytes).substr(begin, s.end - begin), s.line_bytes);
    begin = s.end;
  }
  // A COPY ends with its buffer, which Restage may then still read (errors: in the files).
  (void)EndCopy();
}

void PgWriter::ApplySegment(const std::shared_ptr<PgFile>& file, std::string_view data,
                            int64_t line_bytes) {
  PgFile& f = *file;
  if (f.error) return;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool was_connected = session_.connected();
    Result<void> ok = EnsureSession();
    if (ok && f.staged_rows > 0 && f.generation != generation_) return Fail(f, LostRows());
    if (ok && !copying_) ok = StartCopy();
    if (ok) {
      if (PQputCopyData(session_.conn(), data.data(), static_cast<int>(data.size())) == 1) break;
      ok = session_.Classify("COPY into staging", nullptr);
      for (auto& piece : copy_pieces_) {  // the COPY's other files lost their rows too
        if (piece.file != file) Fail(*piece.file, LostRows());
      }
      copy_pieces_.clear();
      copying_ = false;
    }
    if (ok.error().kind == ErrorKind::kUnavailable) LoseSession();
    // A session found dead before this file staged anything: one more try on a new one.
    if (ok.error().kind != ErrorKind::kUnavailable || !was_connected || f.staged_rows > 0) {
      return Fail(f, std::move(ok).error());
    }
  }
  copy_pieces_.push_back({file, data});
  f.generation = generation_;
  f.staged_rows += 1;
  f.staged_bytes += line_bytes;
  if (f.staged_bytes >= tuning_.chunk_bytes) Merge(f);
}

Result<void> PgWriter::EnsureSession() {
  if (session_.connected()) return Ok();
  const int64_t now = NowMs();
  if (last_connect_error_ && now - last_attempt_ms_ < tuning_.reconnect_interval_ms) {
    return *last_connect_error_;
  }
  last_attempt_ms_ = now;
  copying_ = false;
  copy_pieces_.clear();
  auto fail = [&](Error e) -> Result<void> {
    session_.Close();
    // Once the store is open (Open reports these itself), a refused login (a password rotated
    // at the server, a role being recreated, or wrong all along when the server was down at
    // Open) or a missing privilege pauses the writes like an outage until an operator acts:
    // failing files would fail jobs, and kAuth would read as the payer's token endpoint.
    if (opened_) e.kind = ErrorKind::kUnavailable;
    last_connect_error_ = e;
    return e;
  };
  if (auto c = session_.Connect(options_.dsn, options_.password, "store.dsn"); !c) return fail(std::move(c).error());
  if (!prepared_) {
    auto v = session_.PrepareSchema(options_.schema, StoreMigrations());
    if (!v) return fail(std::move(v).error());
    schema_version_.store(*v);
    prepared_ = true;
  }
  // Session-local: it goes with the connection, and with it every row not merged yet.
  auto t = session_.Exec("staging table",
                         "CREATE TEMP TABLE IF NOT EXISTS p2p_stage (seq bigserial, w bigint, "
                         "member_key text, id text, resource jsonb)");
  if (!t) return fail(std::move(t).error());
  last_connect_error_.reset();
  ++generation_;
  merged_since_vacuum_ = 0;
  return Ok();
}

Result<void> PgWriter::StartCopy() {
  PgResult res(PQexec(session_.conn(),
                      "COPY pg_temp.p2p_stage (w, member_key, id, resource) FROM STDIN "
                      "(FORMAT binary)"));
  if (!res || PQresultStatus(res.get()) != PGRES_COPY_IN) {
    return session_.Classify("COPY into staging", res.get());
  }
  if (PQputCopyData(session_.conn(), kCopyHeader, static_cast<int>(kCopyHeaderLen)) != 1) {
    return session_.Classify("COPY into staging", nullptr);
  }
  copying_ = true;
  return Ok();
}

Result<void> PgWriter::FinishCopy() {
  copying_ = false;
  PGconn* conn = session_.conn();
  if (PQputCopyData(conn, kCopyTrailer, 2) != 1 || PQputCopyEnd(conn, nullptr) != 1) {
    return session_.Classify("COPY into staging", nullptr);
  }
  Result<void> out = Ok();
  bool first = true;
  while (PGresult* raw = PQgetResult(conn)) {
    PgResult res(raw);
    if (first && PQresultStatus(raw) != PGRES_COMMAND_OK) {
      out = session_.Classify("COPY into staging", raw);
    }
    first = false;
  }
  return out;
}

Result<void> PgWriter::EndCopy() {
  if (!copying_) return Ok();
  const std::vector<Piece> pieces = std::move(copy_pieces_);
  copy_pieces_.clear();
  Result<void> out = FinishCopy();
  if (!out && out.error().kind == ErrorKind::kInvalid) out = Restage(pieces, out.error());
  if (!out) {
    const bool lost = out.error().kind == ErrorKind::kUnavailable;
    for (const Piece& p : pieces) Fail(*p.file, lost ? LostRows() : out.error());
    if (lost) LoseSession();
  }
  return out;
}

Result<void> PgWriter::Restage(const std::vector<Piece>& pieces, const Error& refused) {
  std::vector<PgFile*> files;  // in the order of their first rows
  for (const Piece& p : pieces) {
    if (std::find(files.begin(), files.end(), p.file.get()) == files.end()) {
      files.push_back(p.file.get());
    }
  }
  if (files.size() == 1) {
    Fail(*files[0], refused);
    DropStaged(*files[0]);
    return Ok();
  }
  for (PgFile* f : files) {
    if (f->error) continue;
    if (auto s = StartCopy(); !s) return s;
    for (const Piece& p : pieces) {
      if (p.file.get() != f) continue;
      if (PQputCopyData(session_.conn(), p.data.data(), static_cast<int>(p.data.size())) != 1) {
        copying_ = false;
        return session_.Classify("COPY into staging", nullptr);
      }
    }
    Result<void> r = FinishCopy();
    if (!r && r.error().kind != ErrorKind::kInvalid) return r;
    if (!r) {
      Fail(*f, std::move(r).error());
      DropStaged(*f);
    }
  }
  return Ok();
}

void PgWriter::DropStaged(PgFile& f) {
  if (f.staged_rows == 0 || f.generation != generation_ || !session_.connected()) return;
  const std::string tag = std::to_string(f.tag);
  auto r = session_.Exec("drop staged rows", "DELETE FROM pg_temp.p2p_stage WHERE w = $1",
                         {tag.c_str()});
  if (!r && r.error().kind == ErrorKind::kUnavailable) LoseSession();
}

void PgWriter::Merge(PgFile& f) {
  if (f.staged_rows > 0) {
    if (f.generation != generation_ || !session_.connected()) return Fail(f, LostRows());
    if (!EndCopy() || f.error) {
      if (!f.error) Fail(f, LostRows());
      return;
    }
  } else if (auto s = EnsureSession(); !s) {  // only the file's end to record
    return Fail(f, std::move(s).error());
  } else if (!EndCopy() || f.error) {
    if (!f.error) Fail(f, LostRows());
    return;
  }
  const std::string& type = f.ctx.type;
  if (tables_.count(type) == 0) {
    auto t = session_.Exec("create table " + type, "SELECT " +
                                                       PgQualified(options_.schema,
                                                                   "p2p_create_type_table") +
                                                       "($1, $2)",
                           {options_.schema.c_str(), type.c_str()}, PGRES_TUPLES_OK);
    if (!t) return Fail(f, std::move(t).error());
    tables_.insert(type);
  }
  const std::string table = PgQualified(options_.schema, type);
  const std::string tag = std::to_string(f.tag);
  const std::string job = std::to_string(f.ctx.job_id);
  const char* tx = f.ctx.transaction_time.empty() ? nullptr : f.ctx.transaction_time.c_str();
  // Newest wins: an older export's copy (tx_time) never replaces a newer one; within a file
  // the last copy of an id wins (seq).
  const std::string merge =
      "INSERT INTO " + table +
      " AS t (payer, id, member_key, tx_time, job_id, received_at, resource)"
      " SELECT DISTINCT ON (s.id) $2, s.id, s.member_key, $3::timestamptz, $4::bigint, now(),"
      " s.resource FROM pg_temp.p2p_stage s WHERE s.w = $1 ORDER BY s.id, s.seq DESC"
      " ON CONFLICT (payer, id) DO UPDATE SET member_key = EXCLUDED.member_key,"
      " tx_time = EXCLUDED.tx_time, job_id = EXCLUDED.job_id,"
      " received_at = EXCLUDED.received_at, resource = EXCLUDED.resource"
      " WHERE t.tx_time IS NULL OR EXCLUDED.tx_time IS NULL OR t.tx_time <= EXCLUDED.tx_time";
  Result<void> out = Ok();
  auto step = [&](std::string_view what, const std::string& sql,
                  const std::vector<const char*>& params) {
    if (!out) return;
    auto r = session_.Exec(what, sql, params);
    if (!r) out = std::move(r).error();
  };
  step("begin", "BEGIN", {});
  if (!f.ctx.lease_owner.empty() && !options_.state_schema.empty()) {
    // Fencing: the job must still be this instance's. FOR SHARE holds off another instance's
    // claim of it until this transaction ends.
    const std::string epoch = std::to_string(f.ctx.lease_epoch);
    auto held = session_.Exec("check lease",
                              "SELECT 1 FROM " + PgQualified(options_.state_schema, "members") +
                                  " WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3"
                                  " FOR SHARE",
                              {job.c_str(), f.ctx.lease_owner.c_str(), epoch.c_str()},
                              PGRES_TUPLES_OK);
    if (!held) {
      out = std::move(held).error();
    } else if (PQntuples(held->get()) != 1) {
      out = MakeError(ErrorKind::kLeaseLost,
                      "job " + job + ": its lease lapsed and another instance took it; its rows "
                      "were not stored");
    }
  }
  if (f.staged_rows > 0) {
    step("merge into " + type, merge, {tag.c_str(), f.ctx.payer.c_str(), tx, job.c_str()});
    step("drop staged rows", "DELETE FROM pg_temp.p2p_stage WHERE w = $1", {tag.c_str()});
  }
  for (const CommitStatement& s : f.on_commit) {
    std::vector<const char*> params;
    for (const std::string& p : s.params) params.push_back(p.c_str());
    step("record the file's end", s.sql, params);
  }
  step("commit", "COMMIT", {});
  if (!out) {
    if (session_.connected()) {
      PgResult rollback(PQexec(session_.conn(), "ROLLBACK"));
      PgResult drop(PQexecParams(session_.conn(), "DELETE FROM pg_temp.p2p_stage WHERE w = $1", 1,
                                 nullptr, std::vector<const char*>{tag.c_str()}.data(), nullptr,
                                 nullptr, 0));
    }
    if (out.error().kind == ErrorKind::kUnavailable) LoseSession();
    return Fail(f, std::move(out).error());
  }
  merged_since_vacuum_ += f.staged_bytes;
  f.staged_rows = 0;
  f.staged_bytes = 0;
  if (merged_since_vacuum_ >= tuning_.chunk_bytes) VacuumStaging();
}

// Merged rows are deleted from the staging table, but nothing else vacuums a temporary table
// (autovacuum cannot reach it): without this the table kept every row staged since the session
// began (1.26 GB on the server's disk after a 1.08 GB export), and every merge's and DELETE's
// scan of it grew with it. VACUUM makes that space reusable by the next COPY, so the table
// holds what is staged plus about chunk_bytes of deleted rows. Housekeeping only: the merge has
// committed, so a failure here fails no file (a lost session is noticed as such).
void PgWriter::VacuumStaging() {
  merged_since_vacuum_ = 0;
  auto r = session_.Exec("vacuum staging", "VACUUM pg_temp.p2p_stage");
  if (!r && r.error().kind == ErrorKind::kUnavailable) LoseSession();
}

void PgWriter::Fail(PgFile& f, Error e) {
  if (f.error) return;
  f.failed_kind.store(static_cast<int>(e.kind), std::memory_order_relaxed);
  f.error = std::move(e);
}

void PgWriter::LoseSession() {
  session_.Close();  // also when still up (a standby after a failover): the next use reconnects
  copying_ = false;
  for (const Piece& p : copy_pieces_) Fail(*p.file, LostRows());
  copy_pieces_.clear();
}

}  // namespace p2p::store
