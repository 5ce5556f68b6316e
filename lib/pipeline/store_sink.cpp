#include "pipeline/store_sink.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

namespace p2p::pipeline {

StoreSink::StoreSink(store::FileWriter* writer, std::string expected_type, size_t max_line_bytes,
                     size_t max_recorded_bad)
    : writer_(writer),
      max_recorded_bad_(max_recorded_bad),
      checker_(max_line_bytes, std::move(expected_type)),
      on_line_([this](const fhir::ChunkChecker::Line& line) { return OnLine(line); }) {
  if (writer_ != nullptr && writer_->TakesBlocks()) {
    checker_.TakeBlocks(
        [this](std::string_view lines, uint64_t /*first*/, uint64_t count) -> Result<uint64_t> {
          lines_ += count;
          auto token = writer_->PutBlock(lines, static_cast<int64_t>(count));
          if (token) stored_ += count;
          return token;
        },
        [this](uint64_t token) { writer_->WaitBlock(token); });
  }
}

// Every chunk from the HTTP client is followed by kBodySlack readable bytes, and the splitter pads
// the lines it copies: so every line can be checked in place, without a copy.
static_assert(http::kBodySlack >= fhir::kLinePadding);

Result<void> StoreSink::OnData(std::string_view chunk) {
  bytes_ += chunk.size();
  return checker_.Feed(chunk, on_line_);
}

Result<void> StoreSink::Finish() { return checker_.Finish(on_line_); }

void StoreSink::RecordBad(uint64_t line_no, std::string_view reason) {
  ++bad_;
  if (bad_lines_.size() < max_recorded_bad_) {
    bad_lines_.push_back({static_cast<int64_t>(line_no), std::string(reason)});
  }
}

Result<void> StoreSink::OnLine(const fhir::ChunkChecker::Line& line) {
  ++lines_;
  if (line.problem != fhir::LineProblem::kNone) {
    RecordBad(line.number, fhir::LineProblemName(line.problem));
    return Ok();
  }
  if (writer_ == nullptr) return Ok();
  auto r = writer_->Put(line.id, line.text);
  if (!r) return r;
  ++stored_;
  return Ok();
}

boost::asio::awaitable<Result<store::StoreMark>> CommitFile(store::FileWriter& writer) {
  namespace asio = boost::asio;
  if (!writer.CommitsAsync()) co_return writer.Commit();
  auto executor = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                          void(Result<store::StoreMark>)>(
      [&writer, executor](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        // The loop keeps running while a commit is out (it may be the only work left).
        auto work = std::make_shared<asio::executor_work_guard<decltype(executor)>>(executor);
        writer.CommitAsync([shared, executor, work](Result<store::StoreMark> result) {
          asio::post(executor, [shared, work, result = std::move(result)]() mutable {
            (*shared)(std::move(result));
          });
        });
      },
      asio::use_awaitable);
}

}  // namespace p2p::pipeline
