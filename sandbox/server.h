// The network side of p2p-sandbox: a Boost.Beast HTTP/1.1 server (plain or TLS) on a 2-thread
// io_context, one C++20 coroutine per connection (its own strand), keep-alive, a fresh parser
// per request (1 MiB body limit), 30 s idle timeout, and SandboxApp for everything else.
// Export files are streamed in 256 KiB chunks (chunked transfer, optional gzip) from one reused
// buffer. Prints `listening on http(s)://HOST:PORT` as the first stdout line; logs one line per
// request to stderr (method, path without query, status, body bytes, ms). Runs until SIGTERM or
// SIGINT, then stops accepting, lets in-flight requests finish (up to 3 s) and returns.
#pragma once

#include "server_options.h"

namespace p2p::sandbox {

// Returns the process exit code: 0 after a signal, 1 when it could not start (message on stderr).
int RunServer(const ServerOptions& options);

}  // namespace p2p::sandbox
