#include "pipeline/bulk_match.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

#include "core/bulk_member_match.h"
#include "fhir/bulk_match_reader.h"
#include "fhir/export_status.h"
#include "fhir/operation_outcome.h"
#include "fhir/patient_ref.h"
#include "pipeline/job_runner.h"
#include "pipeline/member_record.h"
#include "pipeline/step_util.h"
#include "state/bulk_match_db.h"

namespace p2p::pipeline {

namespace asio = boost::asio;
using state::BulkMatchDb;
using state::GroupExportKind;
using state::Job;

namespace {

// The error_detail of a 400 / 422 answer whose OperationOutcome refuses the request as invalid;
// nullopt for any other answer.
std::optional<std::string> RefusedAsInvalid(std::string_view step, const http::Response& res,
                                            bool parties_complete) {
  if (res.status != 400 && res.status != 422) return std::nullopt;
  const fhir::OperationOutcomeInfo oo = fhir::ReadOperationOutcome(res.body);
  if (oo.cls != fhir::OutcomeClass::kRequestInvalid) return std::nullopt;
  return RequestInvalidDetail(step, res.status, oo.summary, parties_complete);
}

}  // namespace

Result<BulkStep> BulkMatcher::Save(Job& job, JobState previous) {
  auto r = db_.SaveJob(job, previous, NowMs());
  if (!r) return std::move(r).error();
  if (job.state != previous) {
    if (job.error_class.empty()) {
      spdlog::info("job {} member {} payer {}: {} -> {}", job.id, job.member_key, job.payer,
                   JobStateName(previous), JobStateName(job.state));
    } else {
      spdlog::warn("job {} member {} payer {}: {} -> {} ({}{}){}", job.id, job.member_key,
                   job.payer, JobStateName(previous), JobStateName(job.state), job.error_class,
                   job.http_status != 0 ? ", HTTP " + std::to_string(job.http_status) : "",
                   // A refused request's detail quotes the server: state DB only.
                   job.error_class == kRequestInvalid ? "" : ": " + job.error_detail);
    }
  }
  return BulkStep::kContinue;
}

Result<BulkStep> BulkMatcher::Fail(Job& batch, std::string_view error_class, std::string detail,
                                   int http_status) {
  const JobState prev = batch.state;
  batch.state = JobState::kFailed;
  batch.error_class = std::string(error_class);
  batch.error_detail = std::move(detail);
  batch.http_status = http_status;
  batch.next_ms = 0;
  auto r = Save(batch, prev);
  if (!r) return r;
  return BulkStep::kStop;
}

Result<BulkStep> BulkMatcher::Retry(Job& batch, PayerClient& payer, std::string_view error_class,
                                    std::string detail, int http_status) {
  batch.attempts += 1;
  if (batch.attempts >= payer.retry().max_attempts()) {
    return Fail(batch, error_class,
                detail + " (after " + std::to_string(batch.attempts) + " attempts)", http_status);
  }
  batch.error_class = std::string(error_class);
  batch.error_detail = std::move(detail);
  batch.http_status = http_status;
  batch.next_ms = NowMs() + payer.BackoffDelay(static_cast<int>(batch.attempts), nullptr).count();
  auto r = Save(batch, batch.state);
  if (!r) return r;
  return BulkStep::kWait;
}

Result<BulkStep> BulkMatcher::WaitForToken(Job& batch, PayerClient& payer, const Error& e) {
  batch.error_class = std::string(ErrorKindName(e.kind));
  batch.error_detail = "$bulk-member-match: " + e.message;
  batch.http_status = e.http_status;
  const int64_t now = NowMs();
  if (e.kind == ErrorKind::kThrottled) {
    // No attempt counted: the batch waits until the payer is due again (poll.timeout bounds it
    // while polling).
    batch.next_ms = std::max(payer.throttled_until_ms(), now + 1000);
  } else {
    batch.next_ms = now + payer.BackoffDelay(payer.retry().max_attempts(), nullptr).count();
  }
  auto r = Save(batch, batch.state);
  if (!r) return r;
  return BulkStep::kWait;
}

asio::awaitable<Result<BulkStep>> BulkMatcher::Step(Job& job, PayerClient& payer) {
  BulkMatchDb bdb(db_);
  auto info = bdb.Find(job.id);
  if (!info) co_return std::move(info).error();
  if (!*info) {
    // A member's own job: in bulk mode it joins a batch instead of its own $member-match.
    if (job.state != JobState::kPending || payer.options().match.mode != MatchMode::kBulk) {
      co_return BulkStep::kNotMine;
    }
    const MatchOptions& mo = payer.options().match;
    auto batch = bdb.Join(job, mo.batch_size, mo.batch_wait.count(), NowMs());
    if (!batch) co_return std::move(batch).error();
    spdlog::debug("job {} member {} payer {}: pending -> matching (in batch job {})", job.id,
                  job.member_key, job.payer, *batch);
    co_return BulkStep::kStop;
  }
  if ((*info)->kind != GroupExportKind::kBulkMatchBatch) co_return BulkStep::kNotMine;
  if (job.state == JobState::kPending) {
    const JobState prev = job.state;
    job.state = JobState::kMatching;
    job.attempts = 0;
    job.poll_url.clear();
    job.polls = 0;
    job.export_started_ms = NowMs();
    job.requested_ms = job.export_started_ms;
    auto r = bdb.Seal(job, prev, NowMs());
    if (!r) co_return std::move(r).error();
    spdlog::info("job {} member {} payer {}: pending -> matching", job.id, job.member_key,
                 job.payer);
    co_return BulkStep::kContinue;
  }
  if (job.state != JobState::kMatching) co_return BulkStep::kNotMine;
  if (job.poll_url.empty()) co_return co_await Send(job, payer);
  co_return co_await Poll(job, payer);
}

asio::awaitable<Result<BulkStep>> BulkMatcher::Send(Job& batch, PayerClient& payer) {
  auto waiting = BulkMatchDb(db_).Waiting(batch.id);
  if (!waiting) co_return std::move(waiting).error();
  if (waiting->empty()) {  // every member was cancelled meanwhile: nothing to ask
    const JobState prev = batch.state;
    batch.state = JobState::kComplete;
    batch.completed_ms = NowMs();
    auto r = Save(batch, prev);
    if (!r) co_return std::move(r).error();
    co_return BulkStep::kStop;
  }
  std::vector<std::pair<std::string, MemberRow>> rows;
  rows.reserve(waiting->size());
  for (const state::BatchMember& m : *waiting) {
    auto row = DecodeMemberRow(m.row_json);
    if (!row) {
      co_return MakeError(ErrorKind::kInternal,
                          "job " + std::to_string(m.job_id) + ": " + row.error().message);
    }
    rows.emplace_back(BulkMemberRef(m.job_id), std::move(row).value());
  }
  const PayerOptions& po = payer.options();
  auto url = Url::Parse(JoinUrl(po.base_url, po.match.bulk_path));
  if (!url) co_return Fail(batch, "invalid", url.error().message, 0);
  http::Request req;
  req.method = "POST";
  req.url = std::move(url).value();
  req.headers = {{"Content-Type", "application/fhir+json"},
                 {"Accept", "application/fhir+json"},
                 {"Prefer", "respond-async"}};
  const ConsentParties parties = ConsentPartiesOf(po, limits_.self);
  req.body = BuildBulkMemberMatchBody(rows, parties);
  rows.clear();
  const Url request_url = req.url;
  auto r = co_await payer.Send(std::move(req), limits_.max_manifest_bytes, true, "member_match");
  if (!r && (r.error().kind == ErrorKind::kAuth || r.error().kind == ErrorKind::kThrottled)) {
    co_return WaitForToken(batch, payer, r.error());
  }
  if (!r) {
    co_return Fail(batch, ErrorKindName(r.error().kind), "$bulk-member-match: " + r.error().message,
                   r.error().http_status);
  }
  if (r->status == 200 && r->Get("content-location").empty()) {
    co_return Answer(batch, payer, r->body);  // answered synchronously
  }
  if (r->status != 202 && r->status != 200) {
    if (auto invalid = RefusedAsInvalid("$bulk-member-match", *r, parties.complete())) {
      co_return Fail(batch, kRequestInvalid, std::move(*invalid), r->status);
    }
    co_return Fail(batch, "http_status", "$bulk-member-match: HTTP " + std::to_string(r->status),
                   r->status);
  }
  auto where = fhir::ReadKickoff(r->Get("content-location"), r->body);
  if (!where) {
    co_return Retry(batch, payer, ErrorKindName(where.error().kind),
                    "$bulk-member-match kick-off: " + where.error().message, r->status);
  }
  auto poll = request_url.Resolve(*where);
  if (!poll) {
    co_return Fail(batch, "protocol", "$bulk-member-match: poll URL: " + poll.error().message,
                   r->status);
  }
  if (!payer.IsTrusted(*poll)) {
    co_return Fail(batch, "untrusted_host",
                   "$bulk-member-match: poll URL host " + poll->host + " is not in trusted_hosts",
                   0);
  }
  batch.poll_url = poll->ToString();
  batch.polls = 0;
  batch.attempts = 0;
  batch.error_class.clear();
  batch.error_detail.clear();
  batch.http_status = 0;
  batch.next_ms = NowMs() + po.poll.min_interval.count();
  spdlog::info("job {} member {} payer {}: $bulk-member-match sent for {} members", batch.id,
               batch.member_key, batch.payer, waiting->size());
  auto s = Save(batch, batch.state);
  if (!s) co_return std::move(s).error();
  co_return BulkStep::kWait;
}

asio::awaitable<Result<BulkStep>> BulkMatcher::Poll(Job& batch, PayerClient& payer) {
  const PollOptions& po = payer.options().poll;
  if (NowMs() - batch.export_started_ms > po.timeout.count()) {
    co_return Fail(batch, "poll_timeout", "$bulk-member-match not answered after poll.timeout", 0);
  }
  auto url = Url::Parse(batch.poll_url);
  if (!url) co_return Fail(batch, "protocol", url.error().message, 0);
  http::Request req;
  req.url = std::move(url).value();
  req.headers = {{"Accept", "application/fhir+json"}};
  auto r = co_await payer.Send(std::move(req), limits_.max_manifest_bytes, true, "poll");
  if (!r && (r.error().kind == ErrorKind::kAuth || r.error().kind == ErrorKind::kThrottled)) {
    co_return WaitForToken(batch, payer, r.error());
  }
  if (!r) {
    co_return Fail(batch, ErrorKindName(r.error().kind),
                   "$bulk-member-match status: " + r.error().message, r.error().http_status);
  }
  if (r->status == 404 || r->status == 410) {
    // The server forgot the request: ask again (the members are still waiting).
    batch.poll_url.clear();
    co_return Retry(batch, payer, "export_gone",
                    "$bulk-member-match status: HTTP " + std::to_string(r->status), r->status);
  }
  if (r->status == 202) {
    batch.polls += 1;
    batch.attempts = 0;
    std::optional<Millis> after;
    if (std::string_view ra = r->Get("retry-after"); !ra.empty()) {
      after = ParseRetryAfter(ra, NowMs() / 1000);
    }
    Millis delay;
    if (after) {
      delay = std::clamp(*after, po.min_interval, po.max_interval);
    } else {
      const int shift = static_cast<int>(std::min<int64_t>(batch.polls - 1, 20));
      delay = std::min(po.max_interval, po.min_interval * (int64_t{1} << shift));
    }
    batch.next_ms = NowMs() + delay.count();
    auto s = Save(batch, batch.state);
    if (!s) co_return std::move(s).error();
    co_return BulkStep::kWait;
  }
  if (r->status != 200) {
    // An asynchronous request refused after validation fails at its status URL.
    const bool complete = ConsentPartiesOf(payer.options(), limits_.self).complete();
    if (auto invalid = RefusedAsInvalid("$bulk-member-match status", *r, complete)) {
      co_return Fail(batch, kRequestInvalid, std::move(*invalid), r->status);
    }
    co_return Fail(batch, "http_status",
                   "$bulk-member-match status: HTTP " + std::to_string(r->status), r->status);
  }
  co_return Answer(batch, payer, r->body);
}

Result<BulkStep> BulkMatcher::Answer(Job& batch, PayerClient& payer, std::string_view body) {
  auto waiting = BulkMatchDb(db_).Waiting(batch.id);
  if (!waiting) return std::move(waiting).error();
  auto answer = fhir::ReadBulkMemberMatch(body, std::max<size_t>(waiting->size() * 2, 16));
  if (!answer) {
    return Retry(batch, payer, ErrorKindName(answer.error().kind), answer.error().message, 200);
  }
  std::unordered_map<std::string, const fhir::BulkMatchMember*> by_ref;
  for (const fhir::BulkMatchMember& m : answer->members) by_ref.try_emplace(m.member_ref, &m);
  std::vector<state::MemberVerdict> verdicts;
  verdicts.reserve(waiting->size());
  int matched = 0, no_match = 0, refused = 0, missing = 0;
  for (const state::BatchMember& m : *waiting) {
    state::MemberVerdict v;
    v.job_id = m.job_id;
    auto it = by_ref.find(BulkMemberRef(m.job_id));
    if (it == by_ref.end()) {
      v.outcome = state::BulkOutcome::kMissing;
      ++missing;
    } else if (it->second->verdict == fhir::BulkMatchVerdict::kMatched) {
      v.outcome = state::BulkOutcome::kMatched;
      v.patient_id = it->second->patient_id;
      ++matched;
    } else if (it->second->verdict == fhir::BulkMatchVerdict::kConsentRefused) {
      v.outcome = state::BulkOutcome::kConsentRefused;
      ++refused;
    } else {
      v.outcome = state::BulkOutcome::kNoMatch;
      ++no_match;
    }
    verdicts.push_back(std::move(v));
  }
  const JobState prev = batch.state;
  batch.poll_url.clear();
  batch.polls = 0;
  batch.attempts = 0;
  batch.error_class.clear();
  batch.error_detail.clear();
  batch.http_status = 0;
  batch.next_ms = 0;
  if (matched > 0) {
    batch.group_id = answer->matched_group_id;
    batch.state = JobState::kMatched;
  } else {
    batch.state = JobState::kComplete;
    batch.completed_ms = NowMs();
  }
  auto a = BulkMatchDb(db_).Apply(batch, prev, verdicts, NowMs());
  if (!a) return std::move(a).error();
  spdlog::info(
      "job {} member {} payer {}: matching -> {} ({} matched, {} not matched, {} consent "
      "constrained, {} missing from the answer)",
      batch.id, batch.member_key, batch.payer, JobStateName(batch.state), matched, no_match,
      refused, missing);
  return matched > 0 ? BulkStep::kContinue : BulkStep::kStop;
}

Result<void> BulkMatcher::AfterRun(int64_t job_id) {
  BulkMatchDb bdb(db_);
  auto info = bdb.Find(job_id);
  if (!info) return std::move(info).error();
  if (!*info || (*info)->kind != GroupExportKind::kBulkMatchBatch) return Ok();
  auto n = bdb.Settle(job_id, NowMs());
  if (!n) return std::move(n).error();
  if (*n > 0) spdlog::info("job {}: batch ended; {} members settled", job_id, *n);
  return Ok();
}

Result<int64_t> BulkMatcher::SettleAll() { return BulkMatchDb(db_).SettleAll(NowMs()); }

namespace {

// A Group export's output file: each line under its Patient's member_key.
class AttributingWriter final : public store::FileWriter {
 public:
  AttributingWriter(state::StateDb& db, std::string payer, std::string fallback_key,
                    std::unique_ptr<store::FileWriter> inner)
      : db_(db),
        payer_(std::move(payer)),
        fallback_(std::move(fallback_key)),
        inner_(std::move(inner)) {}

  Result<void> Put(std::string_view id, std::string_view line) override {
    std::string_view patient = refs_.PatientOf(line);
    if (patient.empty()) return inner_->PutFor(fallback_, id, line);
    auto it = keys_.find(patient);
    if (it == keys_.end()) {
      if (keys_.size() >= kMaxCached) keys_.clear();
      auto known = state::BulkMatchDb(db_).KeyForPatient(payer_, patient);
      if (!known) return std::move(known).error();
      std::string key = known->has_value() ? **known : "patient:" + std::string(patient);
      it = keys_.emplace(std::string(patient), std::move(key)).first;
    }
    return inner_->PutFor(it->second, id, line);
  }
  Result<store::StoreMark> Commit() override { return inner_->Commit(); }
  bool CommitsAsync() const override { return inner_->CommitsAsync(); }
  void CommitAsync(std::function<void(Result<store::StoreMark>)> done) override {
    inner_->CommitAsync(std::move(done));
  }
  void Abort() override { inner_->Abort(); }

 private:
  static constexpr size_t kMaxCached = 100000;
  state::StateDb& db_;
  std::string payer_, fallback_;
  std::unique_ptr<store::FileWriter> inner_;
  fhir::PatientRefReader refs_;
  std::map<std::string, std::string, std::less<>> keys_;  // Patient id -> member_key
};

// A single member's Patient file: remembers its Patient ids for later Group exports. Its commit
// stays synchronous (the state DB is the event loop's): a Patient file is one or two lines.
class PatientKeyRecorder final : public store::FileWriter {
 public:
  PatientKeyRecorder(state::StateDb& db, const Job& job, std::unique_ptr<store::FileWriter> inner)
      : db_(db), payer_(job.payer), member_key_(job.member_key), inner_(std::move(inner)) {}

  Result<void> Put(std::string_view id, std::string_view line) override {
    if (pairs_.size() < kMaxPatients) pairs_.emplace_back(std::string(id), member_key_);
    return inner_->Put(id, line);
  }
  Result<void> PutFor(std::string_view member_key, std::string_view id,
                      std::string_view line) override {
    return inner_->PutFor(member_key, id, line);
  }
  Result<store::StoreMark> Commit() override {
    auto mark = inner_->Commit();
    if (!mark) return mark;
    // After the store commit and before the file's done mark: a crash in between downloads the
    // file again and records the same pairs again (upsert).
    auto r = state::BulkMatchDb(db_).RecordPatientKeys(payer_, pairs_);
    if (!r) return std::move(r).error();
    return mark;
  }
  void Abort() override { inner_->Abort(); }

 private:
  static constexpr size_t kMaxPatients = 16;  // a member has one Patient; more is not ours to map
  state::StateDb& db_;
  std::string payer_, member_key_;
  std::unique_ptr<store::FileWriter> inner_;
  std::vector<std::pair<std::string, std::string>> pairs_;
};

}  // namespace

Result<std::unique_ptr<store::FileWriter>> AttributeByPatient(
    state::StateDb& db, const Job& job, const std::string& type,
    std::unique_ptr<store::FileWriter> writer) {
  auto info = BulkMatchDb(db).Find(job.id);
  if (!info) return std::move(info).error();
  if (*info) {
    return std::unique_ptr<store::FileWriter>(
        new AttributingWriter(db, job.payer, job.member_key, std::move(writer)));
  }
  if (type == "Patient") {
    return std::unique_ptr<store::FileWriter>(new PatientKeyRecorder(db, job, std::move(writer)));
  }
  return writer;
}

}  // namespace p2p::pipeline
