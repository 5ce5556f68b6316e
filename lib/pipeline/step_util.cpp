#include "pipeline/step_util.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/retry_policy.h"

namespace p2p::pipeline {

namespace asio = boost::asio;

asio::awaitable<void> Sleep(Millis d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

bool IsRetryableTransfer(const Error& e) {
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

std::string JoinUrl(const std::string& base, std::string_view path) {
  std::string out = base;
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (!path.empty() && path.front() != '/') out += '/';
  out += path;
  return out;
}

}  // namespace p2p::pipeline
