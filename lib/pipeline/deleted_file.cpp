#include "pipeline/deleted_file.h"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/retry_policy.h"
#include "pipeline/step_util.h"
#include "state/lifecycle_db.h"

namespace p2p::pipeline {

namespace asio = boost::asio;

namespace {

constexpr size_t kMaxRefs = 1000000;



}  // namespace

DeletedFileSink::DeletedFileSink(size_t max_line_bytes, size_t max_refs)
    : max_refs_(max_refs),
      splitter_(
          max_line_bytes,
          [this](std::string_view line, uint64_t n) { return OnLine(line, n); },
          [this](uint64_t n) {
            bad_.push_back(state::BadLine{static_cast<int64_t>(n), "too_long"});
          }) {}

Result<void> DeletedFileSink::OnData(std::string_view chunk) { return splitter_.Feed(chunk); }

Result<void> DeletedFileSink::Finish() { return splitter_.Finish(); }

Result<void> DeletedFileSink::OnLine(std::string_view line, uint64_t line_no) {
  scratch_.clear();
  auto r = reader_.Read(line, scratch_);
  if (!r) {
    if (bad_.size() < 1000) {
      bad_.push_back(state::BadLine{static_cast<int64_t>(line_no), r.error().message});
    }
    return Ok();
  }
  if (refs_.size() + scratch_.size() > max_refs_) {
    return MakeError(ErrorKind::kTooLarge,
                     "deleted file: more than " + std::to_string(max_refs_) + " references");
  }
  for (fhir::DeletedRef& d : scratch_) {
    refs_.push_back(store::ResourceRef{std::move(d.type), std::move(d.id)});
  }
  return Ok();
}

asio::awaitable<Result<FileResult>> FetchDeletedFile(
    state::StateDb& db, store::ResourceStore& store, const state::Job& job, state::FileRow& f,
    PayerClient& payer, const PipelineLimits& limits, const std::atomic<bool>& stopping,
    StorageGate& gate) {
  const std::string where = "deleted file " + std::to_string(f.idx);
  auto url = Url::Parse(f.url);
  if (!url) {
    co_return FileResult{FileOutcome::kFailed, std::string(ErrorKindName(url.error().kind)),
                         where + ": bad URL", 0};
  }
  for (;;) {
    if (stopping.load()) co_return FileResult{FileOutcome::kStopped, "", "", 0};
    DeletedFileSink sink(limits.max_line_bytes, kMaxRefs);
    http::Request req;
    req.url = *url;
    req.headers = {{"Accept", "application/fhir+ndjson"},
                   {"Accept-Encoding", payer.options().download.accept_gzip ? "gzip" : "identity"}};
    auto r = co_await payer.StreamOnce(std::move(req), sink, job.requires_token, kFileEndpoint);
    std::optional<Error> err;
    if (r && r->status >= 200 && r->status < 300) {
      auto fin = sink.Finish();
      if (fin) {
        auto d = store.Delete(job.payer, job.id, sink.refs());
        // A store that cannot take writes now (a server restarting): wait for it, as the
        // downloads do, and apply the same references again; other store errors are local.
        while (!d && ClassifyStorageError(d.error()) != StorageProblem::kNone) {
          spdlog::debug("job {} payer {}: {}: store cannot take writes: {}", job.id, job.payer,
                        where, d.error().message);
          gate.Close(ClassifyStorageError(d.error()), d.error().message, payer.metrics());
          co_await Sleep(limits.disk_full_wait);
          if (stopping.load()) co_return FileResult{FileOutcome::kStopped, "", "", 0};
          d = store.Delete(job.payer, job.id, sink.refs());
        }
        if (!d) co_return std::move(d).error();  // local: the store failed
        gate.Open(payer.metrics());
        std::vector<std::pair<std::string, int64_t>> marks;
        for (const store::StoreMark& m : d->marks) marks.emplace_back(m.type, m.deleted_end);
        f.state = state::FileState::kDone;
        f.lines = static_cast<int64_t>(sink.lines());
        f.stored = d->removed;  // resources deleted (NDJSON store: tombstones written)
        f.bad_lines = static_cast<int64_t>(sink.bad_lines().size());
        f.bytes = static_cast<int64_t>(sink.bytes());
        if (auto done = state::DeletedFileDone(db, f, marks); !done) {
          co_return std::move(done).error();
        }
        spdlog::info("job {} member {} payer {}: {}: {} resources deleted{}", job.id,
                     job.member_key, job.payer, where, d->removed,
                     f.bad_lines > 0 ? " (" + std::to_string(f.bad_lines) + " bad lines)" : "");
        co_return FileResult{};
      }
      err = std::move(fin).error();
    } else if (r && (r->status == 404 || r->status == 410)) {
      co_return FileResult{FileOutcome::kGone, "file_gone",
                           where + ": HTTP " + std::to_string(r->status), r->status};
    } else if (!r) {
      err = r.error();
    } else {
      err = MakeError(ErrorKind::kHttpStatus, "HTTP " + std::to_string(r->status), r->status);
    }
    if (err->kind == ErrorKind::kAuth || err->kind == ErrorKind::kThrottled) {
      FileResult waiting{FileOutcome::kWait, "", "", err->http_status};
      waiting.wait = *err;
      co_return waiting;
    }
    const bool retryable = IsRetryableTransfer(*err);
    f.attempts += 1;
    if (!retryable || f.attempts >= payer.retry().max_attempts()) {
      co_return FileResult{FileOutcome::kFailed, std::string(ErrorKindName(err->kind)),
                           where + " " + std::string(url->Path()) + ": " + err->message,
                           err->http_status};
    }
    if (auto a = db.SaveFileAttempts(job.id, f.idx, f.attempts); !a) co_return std::move(a).error();
    co_await Sleep(payer.BackoffDelay(static_cast<int>(f.attempts), r ? &r.value() : nullptr));
  }
}

}  // namespace p2p::pipeline
