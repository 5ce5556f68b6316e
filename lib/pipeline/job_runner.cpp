#include "pipeline/job_runner.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>

#include "core/civil_date.h"
#include "core/duration.h"
#include "core/member.h"
#include "fhir/export_status.h"
#include "fhir/member_match_reader.h"
#include "fhir/operation_outcome.h"
#include "pipeline/export_manifest.h"
#include "pipeline/export_request.h"
#include "pipeline/lifecycle.h"
#include "pipeline/member_record.h"
#include "pipeline/step_util.h"

namespace p2p::pipeline {

namespace asio = boost::asio;
using state::FileKind;
using state::FileRow;
using state::FileState;
using state::Job;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

int64_t TodayDays() { return DaysFromUnix(NowMs() / 1000); }

constexpr std::string_view kThrottledClass = "throttled";

// Answers a step waits out instead of failing: a throttling payer, a token endpoint that is down
// or rejects our credentials.
bool IsWait(const Error& e) {
  return e.kind == ErrorKind::kThrottled || e.kind == ErrorKind::kAuth;
}


}  // namespace

JobRunner::JobRunner(state::StateDb& db, store::ResourceStore& store, const PipelineLimits& limits,
                     const std::atomic<bool>& stopping, RunCounters& counters, Metrics* metrics,
                     http::SlotPool* downloads)
    : db_(db),
      limits_(limits),
      stopping_(stopping),
      metrics_(metrics),
      downloads_(downloads),
      downloader_(db, store, limits, stopping, counters),
      publish_(db, store),
      bulk_(db, limits) {}

Result<void> JobRunner::Save(Job& job, JobState previous) {
  int64_t now = NowMs();
  // A step that got anywhere ends the job's wait for a throttling payer (its patience restarts).
  if (job.error_class != kThrottledClass) job.throttled_since_ms = 0;
  auto r = publish_.Save(job, previous, now);  // StateDb::SaveJob + the store's job hooks
  if (!r) return r;
  if (job.state != previous) {
    if (job.error_class.empty()) {
      spdlog::info("job {} member {} payer {}: {} -> {}", job.id, job.member_key, job.payer,
                   JobStateName(previous), JobStateName(job.state));
    } else {
      spdlog::warn("job {} member {} payer {}: {} -> {} ({}{}{})", job.id, job.member_key,
                   job.payer, JobStateName(previous), JobStateName(job.state), job.error_class,
                   job.http_status != 0 ? ", HTTP " + std::to_string(job.http_status) : "",
                   // 422 details are the server's own text: kept in the state DB, not logged.
                   job.error_detail.empty() || job.state == JobState::kNoMatch ||
                           job.state == JobState::kConsentRefused ||
                           job.error_class == kRequestInvalid
                       ? ""
                       : ": " + job.error_detail);
    }
  }
  return Ok();
}

JobRunner::StepResult JobRunner::Finish(Job& job, JobState terminal, std::string_view error_class,
                                        std::string detail, int http_status) {
  if (terminal == JobState::kComplete) {
    // The job's staged lines join the store in the commit that completes it (job_publish.h).
    if (auto p = publish_.Publish(job.id); !p) {
      if (ClassifyStorageError(p.error()) == StorageProblem::kNone) return std::move(p).error();
      job.next_ms = NowMs() + limits_.disk_full_wait.count();  // full store: complete later
      if (auto s = Save(job, job.state); !s) return std::move(s).error();
      return Next::kWait;
    }
  }
  JobState prev = job.state;
  job.state = terminal;
  job.error_class = std::string(error_class);
  job.error_detail = std::move(detail);
  job.http_status = http_status;
  job.next_ms = 0;
  if (terminal == JobState::kComplete) {
    job.completed_ms = NowMs();
    // Concurrent coverage: schedule the next refresh first (pipeline/lifecycle.h says why).
    auto due = lifecycle::BeforeComplete(db_, job, limits_.refresh_interval, job.completed_ms);
    if (!due) return std::move(due).error();
  }
  if (job.requested_ms != 0 && job.requested_ms / 1000 > job.deadline) {
    // Requested after the CMS-0057-F deadline: counted once, when the job ends.
    if (metrics_ != nullptr) metrics_->GetCounter(metric::kDeadlineBreaches, {{"payer", job.payer}}).Inc();
  }
  if (terminal == JobState::kComplete && metrics_ != nullptr) {
    const int64_t completed_s = job.completed_ms / 1000;  // whole seconds
    metrics_->GetGauge(metric::kLastSuccess, {{"payer", job.payer}})
        .Set(static_cast<double>(completed_s));
  }
  auto r = Save(job, prev);
  if (!r) return std::move(r).error();
  return Next::kStop;
}

JobRunner::StepResult JobRunner::RetryLater(Job& job, const PayerClient& payer,
                                            std::string_view error_class, std::string detail,
                                            int http_status) {
  job.attempts += 1;
  if (job.attempts >= payer.retry().max_attempts()) {
    return Finish(job, JobState::kFailed, error_class,
                  detail + " (after " + std::to_string(job.attempts) + " attempts)", http_status);
  }
  job.error_class = std::string(error_class);
  job.error_detail = std::move(detail);
  job.http_status = http_status;
  job.next_ms = NowMs() + payer.BackoffDelay(static_cast<int>(job.attempts), nullptr).count();
  spdlog::debug("job {} payer {}: {}: {}; retrying (attempt {})", job.id, job.payer, error_class,
                job.error_detail, job.attempts);
  auto r = Save(job, job.state);
  if (!r) return std::move(r).error();
  return Next::kWait;
}

JobRunner::StepResult JobRunner::WaitForPayer(Job& job, const PayerClient& payer,
                                              std::string_view step, const Error& e) {
  if (e.kind != ErrorKind::kThrottled) return WaitForToken(job, payer, step, e);
  // Throttling: no attempt counted; the job waits until the payer is due again, within its
  // patience (poll.timeout while polling, retry.give_up_after at the other steps).
  const int64_t now = NowMs();
  if (job.throttled_since_ms == 0) job.throttled_since_ms = now;
  const bool polling = job.state == JobState::kPolling;
  const int64_t give_up_at =
      polling ? job.export_started_ms + payer.options().poll.timeout.count()
              : job.throttled_since_ms + payer.options().retry.give_up_after.count();
  if (now >= give_up_at) {
    const Millis patience =
        polling ? payer.options().poll.timeout : payer.options().retry.give_up_after;
    return Finish(job, JobState::kFailed, kThrottledClass,
                  std::string(step) + ": the payer was still throttling after " +
                      (polling ? "poll.timeout (" : "retry.give_up_after (") +
                      FormatDuration(patience) + ")",
                  e.http_status);
  }
  job.error_class = std::string(kThrottledClass);
  job.error_detail = std::string(step) + ": " + e.message;
  job.http_status = e.http_status;
  const int64_t due = payer.throttled_until_ms();
  job.next_ms = std::min(due > now ? due : now + 1000, give_up_at);
  spdlog::debug("job {} payer {}: {}; waiting for the payer", job.id, job.payer, job.error_detail);
  auto r = Save(job, job.state);
  if (!r) return std::move(r).error();
  return Next::kWait;
}

JobRunner::StepResult JobRunner::WaitForToken(Job& job, const PayerClient& payer,
                                              std::string_view step, const Error& e) {
  job.error_class = std::string(ErrorKindName(ErrorKind::kAuth));
  job.error_detail = std::string(step) + ": " + e.message;
  job.http_status = e.http_status;
  // Rejected credentials wait for a reload (which wakes the job) or the next token try; an
  // endpoint that is down, a jittered backoff.
  job.next_ms = NowMs() + (payer.auth_rejected()
                               ? payer.options().retry.max_delay.count()
                               : payer.BackoffDelay(payer.retry().max_attempts(), nullptr).count());
  spdlog::debug("job {} payer {}: {}; waiting for the token endpoint", job.id, job.payer,
                job.error_detail);
  auto r = Save(job, job.state);
  if (!r) return std::move(r).error();
  return Next::kWait;
}

JobRunner::StepResult JobRunner::Rekick(Job& job, const PayerClient& payer,
                                        std::string_view why_class, std::string detail) {
  // Each cause has its own budget: a few failed exports must not use up the re-kicks that
  // expiring files need, nor the other way round.
  const ExportOptions& eo = payer.options().export_job;
  const bool expired = why_class == "file_gone" || why_class == "export_gone" ||
                       why_class == "expired";
  const int64_t used = expired ? job.expired_rekicks : job.failed_rekicks();
  const int budget = expired ? eo.max_expired_rekicks : eo.max_rekicks;
  if (used >= budget) {
    return Finish(job, JobState::kFailed, why_class,
                  detail + " (after " + std::to_string(used) + " re-kicks; export." +
                      (expired ? "max_expired_rekicks: " : "max_rekicks: ") +
                      std::to_string(budget) + ")");
  }
  JobState prev = job.state;
  job.rekicks += 1;
  if (expired) job.expired_rekicks += 1;
  job.state = JobState::kExporting;
  job.poll_url.clear();
  job.polls = 0;
  job.attempts = 0;
  job.error_class = std::string(why_class);
  job.error_detail = std::move(detail);
  spdlog::warn("job {} member {} payer {}: re-kicking the export ({}; re-kick {} of {})", job.id,
               job.member_key, job.payer, why_class, used + 1, budget);
  // Also forgets the old export's manifest pages, Expires and error issues (state/export_db.cpp).
  auto r = db_.SaveFirstManifestPage(job, prev, {}, {}, NowMs());
  if (r) r = publish_.Drop(job.id);  // the new export brings the staged lines again
  if (!r) return std::move(r).error();
  return Next::kContinue;
}

asio::awaitable<Result<void>> JobRunner::Run(int64_t job_id, PayerClient& payer) {
  Job job;
  auto r = co_await Drive(job_id, payer, job);
  if (!r && r.error().kind == ErrorKind::kCancelled) {
    // The job changed underneath this run: an operator's command, or (PostgreSQL state) another
    // instance that took the job over while this one was paused past its lease, and moved it on
    // (a download worker saw it complete, say). Only the lease tells them apart: an operator's
    // command leaves it to this process.
    if (auto held = db_.CheckLease(job_id); !held && held.error().kind == ErrorKind::kLeaseLost) {
      r = std::move(held).error();
    }
  }
  if (!r && r.error().kind == ErrorKind::kLeaseLost) {
    // This instance was paused past the job's lease and another one runs it now: nothing more
    // of this run may be written (the state refused the write that found out).
    spdlog::warn("job {} payer {}: {}", job_id, payer.id(), r.error().message);
    co_return Ok();
  }
  if (r || r.error().kind == ErrorKind::kCancelled) {
    // A batch that ended (or an operator cancelled) settles its members (pipeline/bulk_match.h).
    if (auto s = bulk_.AfterRun(job_id); !s) co_return s;
  }
  if (!r && r.error().kind == ErrorKind::kCancelled) {
    // An operator changed the job underneath us: their decision stands, this run ends.
    spdlog::info("job {} payer {}: {}; leaving it as the operator set it", job_id, payer.id(),
                 r.error().message);
    if (auto d = publish_.Drop(job_id); !d) co_return d;  // nothing of it is published
    // Cancelled with an export running (perhaps one kicked off after the operator looked):
    // cancel it at the payer now rather than leave it to the scheduler's sweep.
    auto now = db_.LoadJob(job_id);
    if (!now) co_return std::move(now).error();
    if (now->state == JobState::kCancelled && !job.poll_url.empty()) {
      co_return co_await CancelExport(job_id, job.poll_url, payer);
    }
    co_return Ok();
  }
  co_return r;
}

asio::awaitable<Result<void>> JobRunner::CancelExport(int64_t job_id, std::string poll_url,
                                                      PayerClient& payer) {
  if (auto d = publish_.Drop(job_id); !d) co_return d;  // cancelled: nothing of it is published
  if (payer.options().export_job.cancel_with_delete) {
    auto d = co_await payer.CancelExport(poll_url);
    if (!d && (d.error().kind == ErrorKind::kThrottled || d.error().kind == ErrorKind::kAuth)) {
      co_return Ok();  // kept: the DELETE is sent once the payer takes requests again
    }
    if (!d) {
      spdlog::warn("job {} payer {}: cancelling the export at the payer failed: {}", job_id,
                   payer.id(), d.error().message);
    }
  }
  auto st = state::Stmt::Prepare(
      db_.handle(), "UPDATE members SET poll_url=NULL WHERE id=?1 AND state=?2");
  if (!st) co_return std::move(st).error();
  co_return st->Bind(1, job_id)
      .Bind(2, static_cast<int64_t>(JobState::kCancelled))
      .Run("forget the poll URL of a cancelled job");
}

Result<std::vector<std::pair<int64_t, std::string>>> PendingExportCancels(state::StateDb& db,
                                                                          const std::string& payer,
                                                                          int limit) {
  auto st = state::Stmt::Prepare(
      db.handle(),
      "SELECT id, poll_url FROM members WHERE state=?1 AND payer=?2 AND poll_url IS NOT NULL "
      "ORDER BY id LIMIT ?3");
  if (!st) return std::move(st).error();
  st->Bind(1, static_cast<int64_t>(JobState::kCancelled)).Bind(2, payer).Bind(3, int64_t{limit});
  std::vector<std::pair<int64_t, std::string>> out;
  for (;;) {
    auto row = st->Step("cancelled jobs with an export");
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.emplace_back(st->Int(0), st->Text(1));
  }
  return out;
}

asio::awaitable<Result<void>> JobRunner::Drive(int64_t job_id, PayerClient& payer, Job& job) {
  // PostgreSQL state: the lease was claimed a moment ago, perhaps just before this process was
  // paused. If another instance took the job meanwhile, this run must not send a single request
  // for it (it would run beside the new owner's); kLeaseLost ends it (see Run).
  if (auto held = db_.CheckLease(job_id); !held) co_return std::move(held).error();
  auto loaded = db_.LoadJob(job_id);
  if (!loaded) co_return std::move(loaded).error();
  job = std::move(loaded).value();
  while (!stopping_.load()) {
    if (IsTerminal(job.state)) co_return Ok();
    if (job.next_ms > NowMs()) co_return Ok();
    if (job.consent_end_days < TodayDays()) {
      auto r = Finish(job, JobState::kConsentExpired, "consent_expired",
                      "consent period ended before the exchange completed");
      if (!r) co_return std::move(r).error();
      co_return Ok();
    }
    StepResult step = Next::kStop;
    // No request before the consent period starts (pipeline/lifecycle.h), in either match mode.
    if (job.state == JobState::kPending) {
      if (const int64_t not_before = lifecycle::NotBefore(job); not_before > NowMs()) {
        job.next_ms = not_before;
        auto r = Save(job, job.state);
        if (!r) co_return r;
        co_return Ok();
      }
    }
    // Bulk matching owns a bulk payer's pending members and its batches' matching steps.
    auto bulk = co_await bulk_.Step(job, payer);
    if (!bulk) co_return std::move(bulk).error();
    if (*bulk == BulkStep::kContinue) continue;
    if (*bulk != BulkStep::kNotMine) co_return Ok();
    switch (job.state) {
      case JobState::kPending: {
        JobState prev = job.state;
        job.state = JobState::kMatching;
        job.attempts = 0;
        if (job.requested_ms == 0) {
          job.requested_ms = NowMs();
          if (job.requested_ms / 1000 > job.deadline) {
            spdlog::warn("job {} member {} payer {}: requested {} h after its CMS-0057-F deadline",
                         job.id, job.member_key, job.payer,
                         (job.requested_ms / 1000 - job.deadline) / 3600);
          }
        }
        auto r = Save(job, prev);
        if (!r) co_return r;
        step = Next::kContinue;
        break;
      }
      case JobState::kMatching:
        step = co_await Match(job, payer);
        break;
      case JobState::kMatched: {
        JobState prev = job.state;
        job.state = JobState::kExporting;
        job.attempts = 0;
        auto r = Save(job, prev);
        if (!r) co_return r;
        step = Next::kContinue;
        break;
      }
      case JobState::kExporting:
        step = co_await Kickoff(job, payer);
        break;
      case JobState::kPolling:
        step = co_await Poll(job, payer);
        break;
      case JobState::kDownloading:
        step = co_await Download(job, payer);
        break;
      default:
        co_return Ok();
    }
    if (!step) co_return std::move(step).error();
    if (*step != Next::kContinue) co_return Ok();
  }
  co_return Ok();
}

asio::awaitable<JobRunner::StepResult> JobRunner::Match(Job& job, PayerClient& payer) {
  auto row = DecodeMemberRow(job.row_json);
  if (!row) co_return Finish(job, JobState::kFailed, "internal", row.error().message);
  auto url = Url::Parse(JoinUrl(payer.options().base_url, payer.options().member_match_path));
  if (!url) co_return Finish(job, JobState::kFailed, "invalid", url.error().message);
  http::Request req;
  req.method = "POST";
  req.url = std::move(url).value();
  req.headers = {{"Content-Type", "application/fhir+json"}, {"Accept", "application/fhir+json"}};
  const ConsentParties parties = ConsentPartiesOf(payer.options(), limits_.self);
  req.body = BuildMemberMatchBody(*row, parties);
  auto r = co_await payer.Send(std::move(req), limits_.max_answer_bytes, true, "member_match");
  if (!r && IsWait(r.error())) co_return WaitForPayer(job, payer, "$member-match", r.error());
  if (!r) {
    const Error& e = r.error();
    co_return Finish(job, JobState::kFailed, ErrorKindName(e.kind), "$member-match: " + e.message,
                     e.http_status);
  }
  const http::Response& res = *r;
  if (res.status == 200) {
    auto m = fhir::ReadMemberMatch(res.body);
    if (!m) {
      co_return RetryLater(job, payer, ErrorKindName(m.error().kind),
                           "$member-match answer: " + m.error().message, res.status);
    }
    // patient-export needs the member identifier (Patient/$export patient=), the others a Group.
    if (payer.options().export_job.operation == ExportOperation::kPatientExport) {
      if (m->member_identifier.empty()) {
        co_return Finish(job, JobState::kFailed, "protocol",
                         "$member-match answer has no member identifier for patient-export",
                         res.status);
      }
    } else if (m->group_id.empty()) {
      co_return Finish(job, JobState::kFailed, "protocol",
                       "$member-match answer has a member identifier but no Group id", res.status);
    }
    JobState prev = job.state;
    job.group_id = m->group_id;
    job.member_identifier = m->member_identifier;
    job.state = JobState::kMatched;
    job.attempts = 0;
    job.error_class.clear();
    job.error_detail.clear();
    job.http_status = 0;
    auto s = Save(job, prev);
    if (!s) co_return std::move(s).error();
    co_return Next::kContinue;
  }
  fhir::OperationOutcomeInfo oo;
  if (res.status == 400 || res.status == 422) oo = fhir::ReadOperationOutcome(res.body);
  if (oo.cls == fhir::OutcomeClass::kRequestInvalid) {
    // A strict payer refused the request itself (e.g. the HRex 1.1 Consent profile): nothing is
    // known about the member, and asking again would be refused again.
    co_return Finish(job, JobState::kFailed, kRequestInvalid,
                     RequestInvalidDetail("$member-match", res.status, oo.summary,
                                          parties.complete()),
                     res.status);
  }
  if (res.status == 422) {
    if (oo.cls == fhir::OutcomeClass::kNone) {
      // A 422 whose body is not a readable OperationOutcome (cut, garbled) does not say whether
      // it is no-match or consent refused: ask again rather than guess a terminal outcome.
      co_return RetryLater(job, payer, "protocol",
                           "$member-match: 422 answer is not an OperationOutcome", 422);
    }
    if (oo.cls == fhir::OutcomeClass::kConsentRefused) {
      co_return Finish(job, JobState::kConsentRefused, "consent_refused", oo.summary, 422);
    }
    co_return Finish(job, JobState::kNoMatch, "no_match", oo.summary, 422);
  }
  co_return Finish(job, JobState::kFailed, "http_status",
                   "$member-match: HTTP " + std::to_string(res.status), res.status);
}

asio::awaitable<JobRunner::StepResult> JobRunner::Kickoff(Job& job, PayerClient& payer) {
  // A concurrent-coverage refresh asks only for what changed (pipeline/lifecycle.h).
  auto since = lifecycle::ExportSince(db_, job);
  if (!since) co_return std::move(since).error();
  // export.operation, _type and _typeFilter decide the request (pipeline/export_request.h).
  auto built = BuildExportRequest(payer.options(), {job.group_id, job.member_identifier}, *since);
  if (!built) co_return Finish(job, JobState::kFailed, "invalid", built.error().message);
  http::Request req = std::move(built).value();
  Url request_url = req.url;
  auto r = co_await payer.Send(std::move(req), limits_.max_answer_bytes, true, "export");
  if (!r && IsWait(r.error())) co_return WaitForPayer(job, payer, "export kick-off", r.error());
  if (!r) {
    co_return Finish(job, JobState::kFailed, ErrorKindName(r.error().kind),
                     "export kick-off: " + r.error().message, r.error().http_status);
  }
  if (r->status != 202 && r->status != 200) {
    co_return Finish(job, JobState::kFailed, "http_status",
                     "export kick-off: HTTP " + std::to_string(r->status), r->status);
  }
  auto where = fhir::ReadKickoff(r->Get("content-location"), r->body);
  if (!where) {
    co_return RetryLater(job, payer, ErrorKindName(where.error().kind),
                         "export kick-off: " + where.error().message, r->status);
  }
  auto poll = request_url.Resolve(*where);
  if (!poll) {
    co_return Finish(job, JobState::kFailed, "protocol",
                     "export kick-off: poll URL: " + poll.error().message, r->status);
  }
  if (!payer.IsTrusted(*poll)) {
    co_return Finish(job, JobState::kFailed, "untrusted_host",
                     "export kick-off: poll URL host " + poll->host + " is not in trusted_hosts");
  }
  JobState prev = job.state;
  job.poll_url = poll->ToString();
  job.export_started_ms = NowMs();
  job.polls = 0;
  job.attempts = 0;
  job.error_class.clear();
  job.error_detail.clear();
  job.http_status = 0;
  job.state = JobState::kPolling;
  job.next_ms = NowMs() + payer.options().poll.min_interval.count();
  auto s = Save(job, prev);
  if (!s) co_return std::move(s).error();
  co_return Next::kWait;
}

asio::awaitable<JobRunner::StepResult> JobRunner::Poll(Job& job, PayerClient& payer) {
  const PollOptions& po = payer.options().poll;
  if (NowMs() - job.export_started_ms > po.timeout.count()) {
    if (job.throttled_since_ms != 0) {
      co_return Finish(job, JobState::kFailed, kThrottledClass,
                       "export status: the payer was still throttling after poll.timeout");
    }
    co_return Finish(job, JobState::kFailed, "poll_timeout",
                     "export not complete after poll.timeout");
  }
  // The further pages of a paged manifest are read before downloading (export_manifest.cpp).
  auto page = db_.LoadExportPage(job.id);
  if (!page) co_return std::move(page).error();
  if (!page->next_url.empty()) co_return co_await NextManifestPage(job, payer, *page);
  auto url = Url::Parse(job.poll_url);
  if (!url) co_return Finish(job, JobState::kFailed, "protocol", url.error().message);
  http::Request req;
  req.url = std::move(url).value();
  req.headers = {{"Accept", "application/json"}};
  Url status_url = req.url;
  auto r = co_await payer.Send(std::move(req), limits_.max_manifest_bytes, true, "poll");
  if (!r && IsWait(r.error())) co_return WaitForPayer(job, payer, "export status", r.error());
  if (!r) {
    co_return Finish(job, JobState::kFailed, ErrorKindName(r.error().kind),
                     "export status: " + r.error().message, r.error().http_status);
  }
  if (r->status == 404 || r->status == 410) {
    co_return Rekick(job, payer, "export_gone",
                     "export status: HTTP " + std::to_string(r->status));
  }
  if (r->status != 200 && r->status != 202) {
    co_return Finish(job, JobState::kFailed, "http_status",
                     "export status: HTTP " + std::to_string(r->status), r->status);
  }
  auto st = fhir::ReadStatus(r->status, r->Get("x-progress"), r->body, limits_.max_manifest_files);
  if (!st) {
    co_return RetryLater(job, payer, ErrorKindName(st.error().kind),
                         "export status: " + st.error().message, r->status);
  }
  JobState prev = job.state;
  if (st->status == fhir::ExportStatus::kRunning) {
    job.polls += 1;
    job.attempts = 0;
    job.error_class.clear();
    job.error_detail.clear();
    job.http_status = 0;
    std::optional<Millis> after;
    std::string_view ra = r->Get("retry-after");
    if (!ra.empty()) after = ParseRetryAfter(ra, NowMs() / 1000);
    Millis delay;
    if (after) {
      delay = std::clamp(*after, po.min_interval, po.max_interval);
    } else {
      int shift = static_cast<int>(std::min<int64_t>(job.polls - 1, 20));
      delay = std::min(po.max_interval, po.min_interval * (int64_t{1} << shift));
    }
    job.next_ms = NowMs() + delay.count();
    auto s = Save(job, prev);
    if (!s) co_return std::move(s).error();
    co_return Next::kWait;
  }
  if (st->status == fhir::ExportStatus::kFailed) {
    co_return Rekick(job, payer, "export_failed", "export reported failure");
  }
  // Complete: record the manifest's files, then download.
  std::vector<FileRow> files;
  auto add = [&](const std::vector<fhir::OutputFile>& list, FileKind kind) -> Result<void> {
    for (const fhir::OutputFile& o : list) {
      auto u = status_url.Resolve(o.url);
      if (!u) {
        return MakeError(ErrorKind::kProtocol, "manifest file URL: " + u.error().message);
      }
      if (st->requires_access_token && !payer.IsTrusted(*u)) {
        return MakeError(ErrorKind::kUntrustedHost,
                         "manifest file URL host " + u->host + " is not in trusted_hosts");
      }
      FileRow f;
      f.job_id = job.id;
      f.idx = static_cast<int>(files.size());
      f.kind = kind;
      f.type = o.type;
      f.url = u->ToString();
      files.push_back(std::move(f));
    }
    return Ok();
  };
  for (auto [list, kind] : {std::pair{&st->output, FileKind::kOutput},
                            std::pair{&st->error, FileKind::kError},
                            std::pair{&st->deleted, FileKind::kDeleted}}) {
    auto a = add(*list, kind);
    if (!a) {
      co_return Finish(job, JobState::kFailed, ErrorKindName(a.error().kind), a.error().message);
    }
  }
  // Expires and a next manifest page are recorded with the first page (export_manifest.h).
  auto first = FirstManifestPage(*st, r->Get("expires"), status_url, payer);
  if (!first) {
    co_return Finish(job, JobState::kFailed, ErrorKindName(first.error().kind),
                     first.error().message);
  }
  job.transaction_time = st->transaction_time;
  job.requires_token = st->requires_access_token;
  job.state = first->next_url.empty() ? JobState::kDownloading : JobState::kPolling;
  job.attempts = 0;
  job.error_class.clear();
  job.error_detail.clear();
  job.http_status = 0;
  auto s = db_.SaveFirstManifestPage(job, prev, files, *first, NowMs());
  if (!s) co_return std::move(s).error();
  spdlog::info("job {} member {} payer {}: manifest page 1: {} files{}", job.id, job.member_key,
               job.payer, files.size(),
               first->next_url.empty() ? "; polling -> downloading" : "; more pages follow");
  co_return Next::kContinue;
}

asio::awaitable<bool> JobRunner::TakeDownloadSlot(PayerClient& payer) {
  if (downloads_ == nullptr) co_return true;
  // A slot is not held while the payer's request rate makes the file wait.
  co_await payer.AwaitTurn();
  co_return co_await downloads_->Acquire();
}

void JobRunner::GiveBackDownloadSlot() {
  if (downloads_ != nullptr) downloads_->Release();
}

asio::awaitable<Result<FileResult>> JobRunner::FetchFile(const Job& job, FileRow& f,
                                                         int64_t expires_ms, PayerClient& payer) {
  // An operator's cancel stops the job at the next file: nothing more is stored for it.
  auto now = db_.LoadJob(job.id);
  if (!now) co_return std::move(now).error();
  if (now->state != JobState::kDownloading) {
    co_return MakeError(ErrorKind::kCancelled,
                        "job is " + std::string(JobStateName(now->state)) + " in the state DB");
  }
  // Files of an export whose Expires has passed are not tried: the export is kicked off again.
  if (expires_ms != 0 && NowMs() >= expires_ms) {
    co_return FileResult{FileOutcome::kGone, "expired",
                         "export files expired (Expires passed) before file " +
                             std::to_string(f.idx),
                         0};
  }
  // error[] files are read as OperationOutcome lines (export_manifest.cpp).
  if (f.kind == FileKind::kError) co_return co_await FetchErrorFile(job, f, payer);
  co_return co_await downloader_.Fetch(job, f, payer);
}

asio::awaitable<JobRunner::StepResult> JobRunner::Download(Job& job, PayerClient& payer) {
  auto loaded = db_.LoadFiles(job.id);
  if (!loaded) co_return std::move(loaded).error();
  std::vector<FileRow>& files = *loaded;
  auto page = db_.LoadExportPage(job.id);  // Expires (state/export_db.cpp)
  if (!page) co_return std::move(page).error();
  // Up to files_in_parallel workers take the pending files in order; the job's next state is
  // decided once all of them have stopped.
  size_t next = 0;
  std::optional<FileResult> gone, failed, waiting;
  std::optional<Error> fatal;
  bool stopped = false;
  int finished = 0;  // files done in this run: progress, which restarts a throttle's patience
  auto ended = [&] { return gone || failed || fatal || stopped || waiting; };
  auto more = [&] {  // a file left for a worker; deleted[] files are applied after the others
    while (next < files.size() && (files[next].state == FileState::kDone ||
                                   files[next].kind == FileKind::kDeleted)) {
      ++next;
    }
    return next < files.size();
  };
  auto worker = [&]() -> asio::awaitable<void> {
    while (!ended() && more()) {
      // limits.max_downloads: each file is fetched holding a slot of the daemon-wide pool; the
      // wait may be long, so what is left to do is looked at again once the slot is held.
      if (!co_await TakeDownloadSlot(payer)) {
        stopped = true;
        break;
      }
      if (ended() || !more()) {
        GiveBackDownloadSlot();
        break;
      }
      Result<FileResult> r = co_await FetchFile(job, files[next++], page->expires_ms, payer);
      GiveBackDownloadSlot();
      if (!r) {
        fatal = std::move(r).error();
      } else if (r->outcome == FileOutcome::kGone) {
        gone = std::move(r).value();
      } else if (r->outcome == FileOutcome::kFailed) {
        failed = std::move(r).value();
      } else if (r->outcome == FileOutcome::kStopped) {
        stopped = true;
      } else if (r->outcome == FileOutcome::kWait) {
        waiting = std::move(r).value();
      } else {
        ++finished;
      }
    }
  };
  const int n = std::max(1, std::min(limits_.files_in_parallel, payer.options().limits.concurrency));
  int running = n;
  asio::steady_timer all_done(co_await asio::this_coro::executor);
  all_done.expires_at(asio::steady_timer::time_point::max());
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [&]() -> asio::awaitable<void> {
          co_await worker();
          if (--running == 0) all_done.cancel();
        },
        asio::detached);
  }
  while (running > 0) {
    boost::system::error_code ec;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (fatal) co_return *fatal;
  if (gone) co_return Rekick(job, payer, gone->error_class, gone->detail);
  if (failed) {
    co_return Finish(job, JobState::kFailed, failed->error_class, failed->detail,
                     failed->http_status);
  }
  if (stopped) co_return Next::kStop;
  if (waiting) {
    if (finished > 0) job.throttled_since_ms = 0;
    co_return WaitForPayer(job, payer, "download", waiting->wait);
  }
  // deleted[] files last, one at a time: a deletion is never overtaken by this export's data.
  for (FileRow& f : files) {
    if (f.kind != FileKind::kDeleted || f.state == FileState::kDone) continue;
    if (!co_await TakeDownloadSlot(payer)) co_return Next::kStop;
    auto r = co_await FetchFile(job, f, 0, payer);
    GiveBackDownloadSlot();
    if (!r) co_return std::move(r).error();
    if (r->outcome == FileOutcome::kGone) co_return Rekick(job, payer, r->error_class, r->detail);
    if (r->outcome == FileOutcome::kFailed) {
      co_return Finish(job, JobState::kFailed, r->error_class, r->detail, r->http_status);
    }
    if (r->outcome == FileOutcome::kStopped) co_return Next::kStop;
    if (r->outcome == FileOutcome::kWait) co_return WaitForPayer(job, payer, "download", r->wait);
  }
  co_return Finish(job, JobState::kComplete, "", "");
}

}  // namespace p2p::pipeline
