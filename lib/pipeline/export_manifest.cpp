// Paged manifests and error[] files of exports: the pure helpers of export_manifest.h and
// the JobRunner steps that use them (declared in job_runner.h).
#include "pipeline/export_manifest.h"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "fhir/operation_outcome.h"
#include "pipeline/job_runner.h"
#include "pipeline/step_util.h"

namespace p2p::pipeline {

namespace asio = boost::asio;
using state::FileKind;
using state::FileRow;
using state::FileState;
using state::Job;

Result<std::string> NextManifestLink(const fhir::StatusInfo& st, const Url& page_url,
                                     const PayerClient& payer) {
  if (st.next_link.empty()) return std::string();
  auto next = page_url.Resolve(st.next_link);
  if (!next) return MakeError(ErrorKind::kProtocol, "manifest next link: " + next.error().message);
  if (!payer.IsTrusted(*next)) {
    return MakeError(ErrorKind::kUntrustedHost,
                     "manifest next link host " + next->host + " is not in trusted_hosts");
  }
  return next->ToString();
}

Result<state::ExportPage> FirstManifestPage(const fhir::StatusInfo& st,
                                            std::string_view expires_header, const Url& status_url,
                                            const PayerClient& payer) {
  state::ExportPage page;
  page.pages = 1;
  if (auto at = fhir::ReadExpires(expires_header)) page.expires_ms = *at;
  auto next = NextManifestLink(st, status_url, payer);
  if (!next) return std::move(next).error();
  page.next_url = std::move(next).value();
  return page;
}

Result<std::vector<FileRow>> ManifestFiles(int64_t job_id, const fhir::StatusInfo& st,
                                           const Url& page_url, bool requires_token,
                                           const PayerClient& payer, int first_idx) {
  std::vector<FileRow> files;
  for (auto [list, kind] :
       {std::pair{&st.output, FileKind::kOutput}, std::pair{&st.error, FileKind::kError},
        std::pair{&st.deleted, FileKind::kDeleted}}) {
    for (const fhir::OutputFile& o : *list) {
      auto u = page_url.Resolve(o.url);
      if (!u) return MakeError(ErrorKind::kProtocol, "manifest file URL: " + u.error().message);
      if (requires_token && !payer.IsTrusted(*u)) {
        return MakeError(ErrorKind::kUntrustedHost,
                         "manifest file URL host " + u->host + " is not in trusted_hosts");
      }
      FileRow f;
      f.job_id = job_id;
      f.idx = first_idx + static_cast<int>(files.size());
      f.kind = kind;
      f.type = o.type;
      f.url = u->ToString();
      files.push_back(std::move(f));
    }
  }
  return files;
}

asio::awaitable<JobRunner::StepResult> JobRunner::NextManifestPage(Job& job, PayerClient& payer,
                                                                   state::ExportPage page) {
  const std::string what = "manifest page " + std::to_string(page.pages + 1);
  auto url = Url::Parse(page.next_url);
  if (!url) co_return Finish(job, JobState::kFailed, "protocol", what + ": " + url.error().message);
  if (page.pages >= kMaxManifestPages) {
    co_return Finish(job, JobState::kFailed, "too_large",
                     "manifest has more than " + std::to_string(kMaxManifestPages) + " pages");
  }
  http::Request req;
  req.url = std::move(url).value();
  req.headers = {{"Accept", "application/json"}};
  const Url page_url = req.url;
  auto r = co_await payer.Send(std::move(req), limits_.max_manifest_bytes, true, "poll");
  if (!r && r.error().kind == ErrorKind::kAuth) co_return WaitForToken(job, payer, what, r.error());
  if (!r) {
    co_return Finish(job, JobState::kFailed, ErrorKindName(r.error().kind),
                     what + ": " + r.error().message, r.error().http_status);
  }
  if (r->status == 404 || r->status == 410) {
    co_return Rekick(job, payer, "export_gone", what + ": HTTP " + std::to_string(r->status));
  }
  if (r->status != 200) {
    co_return Finish(job, JobState::kFailed, "http_status",
                     what + ": HTTP " + std::to_string(r->status), r->status);
  }
  auto st = fhir::ReadStatus(r->status, "", r->body, limits_.max_manifest_files);
  if (!st) {
    co_return RetryLater(job, payer, ErrorKindName(st.error().kind),
                         what + ": " + st.error().message, r->status);
  }
  if (st->status != fhir::ExportStatus::kComplete) {
    co_return RetryLater(job, payer, "protocol", what + ": not a complete manifest", r->status);
  }
  auto existing = db_.LoadFiles(job.id);
  if (!existing) co_return std::move(existing).error();
  const int first_idx = existing->empty() ? 0 : existing->back().idx + 1;
  if (static_cast<size_t>(first_idx) + st->output.size() + st->error.size() + st->deleted.size() >
      limits_.max_manifest_files) {
    co_return Finish(
        job, JobState::kFailed, "too_large",
        "manifest pages list more than " + std::to_string(limits_.max_manifest_files) + " files");
  }
  // Every page is read under the first page's requiresAccessToken (job.requires_token).
  auto files = ManifestFiles(job.id, *st, page_url, job.requires_token, payer, first_idx);
  if (!files) {
    co_return Finish(job, JobState::kFailed, ErrorKindName(files.error().kind),
                     what + ": " + files.error().message);
  }
  auto next = NextManifestLink(*st, page_url, payer);
  if (!next) {
    co_return Finish(job, JobState::kFailed, ErrorKindName(next.error().kind),
                     what + ": " + next.error().message);
  }
  page.pages += 1;
  page.next_url = std::move(next).value();
  const JobState prev = job.state;
  if (page.next_url.empty()) job.state = JobState::kDownloading;
  job.attempts = 0;
  job.error_class.clear();
  job.error_detail.clear();
  job.http_status = 0;
  auto s = db_.AppendManifestPage(job, prev, *files, page, NowMs());
  if (!s) co_return std::move(s).error();
  spdlog::info("job {} member {} payer {}: {}: {} files{}", job.id, job.member_key, job.payer, what,
               files->size(),
               page.next_url.empty() ? "; polling -> downloading" : "; more pages follow");
  co_return Next::kContinue;
}

asio::awaitable<Result<FileResult>> JobRunner::FetchErrorFile(const Job& job, FileRow& f,
                                                              PayerClient& payer) {
  const std::string where = "error file " + std::to_string(f.idx);
  auto url = Url::Parse(f.url);
  if (!url) co_return FileResult{FileOutcome::kFailed, "protocol", where + ": bad URL", 0};
  Result<http::Response> r = MakeError(ErrorKind::kInternal, "not sent");
  for (;;) {
    if (stopping_.load()) co_return FileResult{FileOutcome::kStopped, "", "", 0};
    http::Request req;
    req.url = *url;
    req.headers = {{"Accept", "application/fhir+ndjson"}, {"Accept-Encoding", "identity"}};
    r = co_await payer.Send(std::move(req), limits_.max_manifest_bytes, job.requires_token, kFileEndpoint);
    if (r || r.error().kind != ErrorKind::kAuth) break;
    // The token endpoint is down: wait, count nothing (as for output files).
    co_await Sleep(payer.BackoffDelay(payer.retry().max_attempts(), nullptr));
  }
  const std::string path(url->Path());
  if (!r) {
    co_return FileResult{FileOutcome::kFailed, std::string(ErrorKindName(r.error().kind)),
                         where + " " + path + ": " + r.error().message, r.error().http_status};
  }
  if (r->status == 404 || r->status == 410) {
    co_return FileResult{FileOutcome::kGone, "file_gone",
                         where + ": HTTP " + std::to_string(r->status), r->status};
  }
  if (r->status < 200 || r->status >= 300) {
    co_return FileResult{FileOutcome::kFailed, "http_status",
                         where + " " + path + ": HTTP " + std::to_string(r->status), r->status};
  }
  std::vector<state::ExportIssue> issues;
  std::vector<state::BadLine> bad;
  std::string_view body = r->body;
  int64_t line_no = 0;
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      --line_no;  // blank lines are not counted
      continue;
    }
    if (line.size() > limits_.max_line_bytes) {
      bad.push_back(
          {line_no, "line longer than " + std::to_string(limits_.max_line_bytes) + " bytes"});
      continue;
    }
    auto read = fhir::ReadOutcomeLine(line);
    if (!read) {
      bad.push_back({line_no, read.error().message});
      continue;
    }
    int n = 0;
    for (fhir::OutcomeIssue& i : *read) {
      issues.push_back(
          {line_no, n++, std::move(i.severity), std::move(i.code), std::move(i.diagnostics)});
    }
  }
  f.state = FileState::kDone;
  f.lines = line_no;
  f.stored = 0;
  f.bad_lines = static_cast<int64_t>(bad.size());
  f.bytes = static_cast<int64_t>(r->body.size());
  auto d = db_.ErrorFileDone(f, issues, bad);
  if (!d) co_return std::move(d).error();
  // Counts only: the issues' text may hold PHI and stays in the state DB.
  spdlog::info("job {} member {} payer {}: {}: {} issues recorded from {} lines{}", job.id,
               job.member_key, job.payer, where, issues.size(), f.lines,
               bad.empty() ? "" : " (" + std::to_string(bad.size()) + " bad lines)");
  co_return FileResult{};
}

}  // namespace p2p::pipeline
