// Small helpers the pipeline's steps share (job runner, downloads, manifests, bulk match).
// Threading: Sleep() runs on the calling coroutine's executor; the rest is pure.
#pragma once

#include <utility>
#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>

#include "core/result.h"
#include "config/options.h"

namespace p2p::pipeline {

// Waits `d` on the current coroutine's executor; a cancelled timer just ends the wait early.
boost::asio::awaitable<void> Sleep(Millis d);

// True for a transfer failure worth another attempt: network error, timeout, cut body, or an
// HTTP status classified retryable (408, 429, 5xx).
bool IsRetryableTransfer(const Error& e);

// Joins base_url and a configured path ("/x" or "x") with exactly one '/' between them.
std::string JoinUrl(const std::string& base, std::string_view path);

}  // namespace p2p::pipeline
