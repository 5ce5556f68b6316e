#include "pipeline/file_download.h"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>

#include "pipeline/store_sink.h"

namespace p2p::pipeline {

namespace asio = boost::asio;
using state::FileKind;
using state::FileState;

namespace {

asio::awaitable<void> Sleep(Millis d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

bool IsRetryable(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kNetwork:
    case ErrorKind::kTimeout:
    case ErrorKind::kTruncated:
      return true;
    case ErrorKind::kHttpStatus:
      return ClassifyHttpStatus(e.http_status) == FailureClass::kRetryable;
    default:
      return false;
  }
}

FileResult Failed(const Error& e, std::string detail) {
  return FileResult{FileOutcome::kFailed, std::string(ErrorKindName(e.kind)), std::move(detail),
                    e.http_status};
}

}  // namespace

FileDownloader::FileDownloader(state::StateDb& db, store::ResourceStore& store,
                               const PipelineLimits& limits, const std::atomic<bool>& stopping,
                               RunCounters& counters)
    : db_(db), store_(store), limits_(limits), stopping_(stopping), counters_(counters) {}

asio::awaitable<Result<FileResult>> FileDownloader::Fetch(const state::Job& job,
                                                          state::FileRow& f, PayerClient& payer) {
  auto url = Url::Parse(f.url);
  if (!url) co_return Failed(url.error(), "file " + std::to_string(f.idx) + ": bad URL");
  // deleted[] files are applied by a later feature; they are recorded but not fetched yet.
  if (f.kind == FileKind::kDeleted) {
    f.state = FileState::kDone;
    auto d = db_.FileDone(f, {}, std::nullopt);
    if (!d) co_return std::move(d).error();
    co_return FileResult{};
  }
  for (;;) {
    if (stopping_.load()) co_return FileResult{FileOutcome::kStopped, "", "", 0};
    std::unique_ptr<store::FileWriter> writer;
    if (f.kind == FileKind::kOutput) {
      store::FileContext ctx{job.payer, job.member_key, job.id, f.idx, f.type, job.transaction_time};
      auto w = store_.Begin(ctx);
      if (!w) co_return Failed(w.error(), "store: " + w.error().message);
      writer = std::move(w).value();
    }
    // error[] files hold OperationOutcome lines: checked and counted, not stored as resources.
    StoreSink sink(writer.get(), f.kind == FileKind::kOutput ? f.type : "OperationOutcome",
                   limits_.max_line_bytes);
    http::Request req;
    req.url = *url;
    req.headers = {{"Accept", "application/fhir+ndjson"}, {"Accept-Encoding", "gzip"}};
    auto r = co_await payer.StreamOnce(std::move(req), sink, job.requires_token, "file");
    const bool ok_status = r && r->status >= 200 && r->status < 300;
    Result<void> finished = ok_status ? sink.Finish() : Ok();
    std::optional<Error> err;
    if (ok_status && finished) {
      std::optional<std::pair<std::string, state::TypeMark>> mark;
      if (writer) {
        auto c = writer->Commit();
        if (!c) {
          err = c.error();
        } else if (c->ndjson_end >= 0) {
          mark.emplace(c->type, state::TypeMark{c->ndjson_end, c->index_end});
        }
      }
      if (!err) {
        f.state = FileState::kDone;
        f.lines = static_cast<int64_t>(sink.lines());
        f.stored = static_cast<int64_t>(sink.stored());
        f.bad_lines = static_cast<int64_t>(sink.bad());
        f.bytes = static_cast<int64_t>(sink.bytes());
        // No co_await between the store commit and this: marks are recorded in commit order.
        auto d = db_.FileDone(f, sink.bad_lines(), mark);
        if (!d) co_return std::move(d).error();
        counters_.resources_stored += f.stored;
        counters_.bad_lines += f.bad_lines;
        counters_.bytes_downloaded += f.bytes;
        counters_.files_done += 1;
        Metrics& m = payer.metrics();
        m.GetCounter(metric::kBytes, {{"type", f.type}}).Inc(static_cast<uint64_t>(f.bytes));
        m.GetCounter(metric::kResourcesStored, {{"type", f.type}})
            .Inc(static_cast<uint64_t>(f.stored));
        if (f.bad_lines > 0) {
          m.GetCounter(metric::kBadLines, {{"type", f.type}}).Inc(static_cast<uint64_t>(f.bad_lines));
          spdlog::warn("job {} member {} payer {}: file {} ({}): {} bad lines of {}", job.id,
                       job.member_key, job.payer, f.idx, f.type, f.bad_lines, f.lines);
        }
        co_return FileResult{};
      }
    }
    if (writer) writer->Abort();
    if (!err) {
      err = !r ? r.error()
               : (!finished ? finished.error()
                            : MakeError(ErrorKind::kHttpStatus, "HTTP " + std::to_string(r->status),
                                        r->status));
    }
    const std::string where = "file " + std::to_string(f.idx) + " " + std::string(url->Path());
    if (r && (r->status == 404 || r->status == 410)) {
      co_return FileResult{FileOutcome::kGone, "file_gone",
                           "file " + std::to_string(f.idx) + ": HTTP " + std::to_string(r->status),
                           r->status};
    }
    if (err->kind == ErrorKind::kDiskFull) {
      spdlog::error("job {} payer {}: store is full; waiting for space: {}", job.id, job.payer,
                    err->message);
      co_await Sleep(limits_.disk_full_wait);
      continue;
    }
    const bool retryable = IsRetryable(*err);
    f.attempts += 1;
    if (!retryable || f.attempts >= payer.retry().max_attempts()) {
      co_return Failed(*err, where + ": " + err->message +
                                 (retryable ? " after " + std::to_string(f.attempts) + " attempts"
                                            : ""));
    }
    auto a = db_.SaveFileAttempts(job.id, f.idx, f.attempts);
    if (!a) co_return std::move(a).error();
    spdlog::debug("job {} payer {}: {} attempt {} failed: {}", job.id, job.payer, where, f.attempts,
                  err->message);
    co_await Sleep(payer.BackoffDelay(static_cast<int>(f.attempts), r ? &r.value() : nullptr));
  }
}

}  // namespace p2p::pipeline
