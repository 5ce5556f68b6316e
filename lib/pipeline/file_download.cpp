#include "pipeline/file_download.h"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>

#include "status/status_server.h"
#include "pipeline/bulk_match.h"
#include "pipeline/deleted_file.h"
#include "pipeline/step_util.h"
#include "pipeline/store_sink.h"

namespace p2p::pipeline {

namespace asio = boost::asio;
using state::FileKind;
using state::FileState;

namespace {



// Releases the store probe when the download that holds it ends, however it ends.
struct ProbeHolder {
  StorageGate& gate;
  bool held = false;
  ~ProbeHolder() {
    if (held) gate.ReleaseProbe();
  }
};

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view ReasonName(StorageProblem p) {
  switch (p) {
    case StorageProblem::kReadOnly: return metric::kStorageReadOnly;
    case StorageProblem::kUnreachable: return metric::kStorageUnreachable;
    default: return metric::kStorageDiskFull;
  }
}

std::string_view ProblemText(StorageProblem p) {
  switch (p) {
    case StorageProblem::kReadOnly: return "read-only";
    case StorageProblem::kUnreachable: return "unreachable";
    default: return "full";
  }
}

FileResult Failed(const Error& e, std::string detail) {
  return FileResult{FileOutcome::kFailed, std::string(ErrorKindName(e.kind)), std::move(detail),
                    e.http_status};
}

}  // namespace

StorageProblem ClassifyStorageError(const Error& e) {
  if (e.kind == ErrorKind::kUnavailable) return StorageProblem::kUnreachable;
  if (e.kind != ErrorKind::kDiskFull) return StorageProblem::kNone;
  const bool read_only = e.message.find("Read-only file system") != std::string::npos ||
                         e.message.find("read-only") != std::string::npos;
  return read_only ? StorageProblem::kReadOnly : StorageProblem::kDiskFull;
}

void StorageGate::Close(StorageProblem problem, const std::string& detail, Metrics& metrics) {
  if (problem == problem_) return;
  if (problem_ != StorageProblem::kNone) {
    metrics.GetGauge(metric::kStorageProblem, {{"reason", ReasonName(problem_)}}).Set(0);
  }
  problem_ = problem;
  metrics.GetGauge(metric::kStorageProblem, {{"reason", ReasonName(problem)}})
      .Set(static_cast<double>(UnixNow()));
  spdlog::error("store is {}: downloads paused until it takes writes again (tried every "
                "store.full_retry_interval): {}",
                ProblemText(problem), detail);
}

void StorageGate::Open(Metrics& metrics) {
  if (problem_ == StorageProblem::kNone) return;
  metrics.GetGauge(metric::kStorageProblem, {{"reason", ReasonName(problem_)}}).Set(0);
  problem_ = StorageProblem::kNone;
  spdlog::info("store takes writes again: downloads resume");
}

FileDownloader::FileDownloader(state::StateDb& db, store::ResourceStore& store,
                               const PipelineLimits& limits, const std::atomic<bool>& stopping,
                               RunCounters& counters)
    : db_(db), store_(store), limits_(limits), stopping_(stopping), counters_(counters) {}

asio::awaitable<Result<FileResult>> FileDownloader::Fetch(const state::Job& job,
                                                          state::FileRow& f, PayerClient& payer) {
  auto url = Url::Parse(f.url);
  if (!url) co_return Failed(url.error(), "file " + std::to_string(f.idx) + ": bad URL");
  // deleted[] files: their references are deleted from the store (pipeline/deleted_file.h).
  if (f.kind == FileKind::kDeleted) {
    co_return co_await FetchDeletedFile(db_, store_, job, f, payer, limits_, stopping_, gate_);
  }
  ProbeHolder probe{gate_};
  for (;;) {
    if (stopping_.load()) co_return FileResult{FileOutcome::kStopped, "", "", 0};
    // A full or read-only store: no new download; one of them probes every disk_full_wait.
    if (gate_.closed() && !probe.held) {
      if (gate_.TakeProbe()) probe.held = true;
      co_await Sleep(limits_.disk_full_wait);
      continue;
    }
    std::unique_ptr<store::FileWriter> writer;
    std::optional<Error> err;
    if (f.kind == FileKind::kOutput) {
      store::FileContext ctx{job.payer, job.member_key, job.id, f.idx, f.type,
                             job.transaction_time, "", 0};
      if (auto lease = db_.LeaseOf(job.id)) {  // a cluster: the store's commits are fenced too
        ctx.lease_owner = lease->owner;
        ctx.lease_epoch = lease->epoch;
      }
      auto w = store_.Begin(ctx);
      if (!w && ClassifyStorageError(w.error()) == StorageProblem::kNone) {
        co_return Failed(w.error(), "store: " + w.error().message);
      }
      if (!w) {
        err = std::move(w).error();
      } else {
        // Group exports: each line under its Patient's member_key (pipeline/bulk_match.h).
        auto a = AttributeByPatient(db_, job, f.type, std::move(w).value());
        if (!a) co_return std::move(a).error();
        writer = std::move(a).value();
      }
    }
    if (err) {
      gate_.Close(ClassifyStorageError(*err), err->message, payer.metrics());
      if (!probe.held) probe.held = gate_.TakeProbe();
      co_await Sleep(limits_.disk_full_wait);
      continue;
    }
    // error[] files hold OperationOutcome lines: checked and counted, not stored as resources.
    StoreSink sink(writer.get(), f.kind == FileKind::kOutput ? f.type : "OperationOutcome",
                   limits_.max_line_bytes);
    http::Request req;
    req.url = *url;
    // download.accept_gzip: identity for a payer next door, where inflating costs more than the
    // wire bytes it saves (the client otherwise asks for gzip).
    req.headers = {{"Accept", "application/fhir+ndjson"},
                   {"Accept-Encoding",
                    payer.options().download.accept_gzip ? "gzip" : "identity"}};
    auto r = co_await payer.StreamOnce(std::move(req), sink, job.requires_token, kFileEndpoint);
    const bool ok_status = r && r->status >= 200 && r->status < 300;
    Result<void> finished = ok_status ? sink.Finish() : Ok();
    if (ok_status && finished) {
      std::optional<std::pair<std::string, state::TypeMark>> mark;
      state::FileRow done = f;
      done.state = FileState::kDone;
      done.lines = static_cast<int64_t>(sink.lines());
      done.stored = static_cast<int64_t>(sink.stored());
      done.bad_lines = static_cast<int64_t>(sink.bad());
      done.bytes = static_cast<int64_t>(sink.bytes());
      // The PostgreSQL store sharing the state's database commits the file's end with its rows.
      bool recorded = false;
      if (writer) {
        std::vector<store::CommitStatement> with;
        for (auto& s : db_.FileDoneStatements(done, sink.bad_lines())) {
          with.push_back({std::move(s.sql), std::move(s.params)});
        }
        recorded = !with.empty() && writer->CommitWith(std::move(with));
        auto c = co_await CommitFile(*writer);
        if (!c) {
          err = c.error();
        } else if (c->ndjson_end >= 0) {
          mark.emplace(c->type, state::TypeMark{c->ndjson_end, c->index_end});
        }
      }
      if (err && err->kind == ErrorKind::kLeaseLost) co_return *err;  // another instance has it
      if (!err) {
        f = done;
        // Nothing runs between a store commit that has marks (a synchronous one) and this:
        // marks are recorded in commit order.
        if (!recorded) {
          auto d = db_.FileDone(f, sink.bad_lines(), mark);
          if (!d) co_return std::move(d).error();
        }
        gate_.Open(payer.metrics());
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
    if (const StorageProblem sp = ClassifyStorageError(*err); sp != StorageProblem::kNone) {
      // Nothing of this file was committed: it starts over once the store takes writes.
      spdlog::debug("job {} payer {}: {}: store cannot take writes: {}", job.id, job.payer, where,
                    err->message);
      gate_.Close(sp, err->message, payer.metrics());
      if (!probe.held) probe.held = gate_.TakeProbe();
      co_await Sleep(limits_.disk_full_wait);
      continue;
    }
    if (err->kind == ErrorKind::kThrottled || err->kind == ErrorKind::kAuth) {
      // The payer throttles or its token endpoint fails: the job waits without its slot.
      FileResult waiting{FileOutcome::kWait, "", "", err->http_status};
      waiting.wait = *err;
      co_return waiting;
    }
    if (err->kind == ErrorKind::kBusy) {
      // An outside writer holding the store: wait, count nothing.
      spdlog::debug("job {} payer {}: {}: waiting: {}", job.id, job.payer, where, err->message);
      co_await Sleep(payer.BackoffDelay(payer.retry().max_attempts(), nullptr));
      continue;
    }
    const bool retryable = IsRetryableTransfer(*err);
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
