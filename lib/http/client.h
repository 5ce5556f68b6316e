// HTTP/1.1 client for talking to prior payers: Boost.Beast over plain TCP or TLS (OpenSSL),
// keep-alive connections pooled per (scheme, host, port) within a total, requests in flight
// bounded over all hosts (optional), a timeout before every network phase,
// bodies either collected up to a limit or streamed to a sink.
//
// Threading: one HttpClient per io_context; all calls are made from coroutines running on that
// io_context's single thread. Not thread-safe.
// Errors: connect/resolve/read/write failures -> kNetwork; a phase past its timeout -> kTimeout;
// body over the limit -> kTooLarge; body shorter than Content-Length / chunked stream cut ->
// kTruncated; TLS verification failure -> kNetwork with a message saying so. A non-2xx status is
// NOT an error here: it is returned in Response::status for the caller to classify. Redirects
// (3xx) are never followed: they are returned like any other status, so a bearer token never
// travels to a Location the caller did not choose.
//
// TLS: every https connection verifies the certificate chain (system store + ca_file) and the
// host name, sends SNI, and refuses anything below TLS 1.2 (see tls_context.h). UseTls() gives
// one host its own settings (a payer's ca_file, or a client certificate for mutual TLS).
#pragma once

#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/url.h"
#include "http/tls_context.h"

namespace p2p::http {

struct Header {
  std::string name;   // as sent / lower-cased on responses
  std::string value;
};

struct Request {
  std::string method = "GET";  // GET | POST
  Url url;                     // absolute; see core/url.h
  std::vector<Header> headers; // extra headers (Authorization, Accept, Content-Type, ...)
  std::string body;            // sent as-is with Content-Length when non-empty or method is POST
  std::chrono::milliseconds timeout{30000};  // per phase: connect(+TLS), write, read headers, each body read
};

struct Response {
  int status = 0;
  std::vector<Header> headers;  // names lower-cased
  std::string body;             // collected body (Send), or the error body (Stream, non-2xx only)

  // First header with this (lower-case) name, or "" when absent.
  std::string_view Get(std::string_view lower_name) const;
};

// Readable bytes that follow every chunk a BodySink receives, inside the same buffer (they are
// not body bytes and hold anything): enough for a parser that reads past its input, such as
// simdjson (SIMDJSON_PADDING), to work on a chunk in place.
inline constexpr size_t kBodySlack = 64;

// Receives a streamed 2xx body in arbitrary chunks, each followed by kBodySlack readable bytes.
// Returning an error aborts the transfer (the connection is closed, not reused) and the error is
// returned from Stream().
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual Result<void> OnData(std::string_view chunk) = 0;
  // Optional: where the next body bytes should be read to, so that they land where the sink
  // keeps them instead of being copied there. The span must be followed by kBodySlack
  // readable bytes of the same buffer and stay valid until the next OnData(), which then gets a
  // chunk starting at its first byte. Used for bodies without Content-Encoding when at least
  // kMinSinkBuffer bytes long; otherwise (and by default) the client reads into its own buffer.
  static constexpr size_t kMinSinkBuffer = 16 * 1024;
  virtual std::span<char> Buffer() { return {}; }
};

struct ClientOptions {
  std::string ca_file;          // extra CA bundle; empty = system store
  size_t max_header_bytes = 64 * 1024;
  size_t max_idle_per_host = 8; // pooled keep-alive connections kept per host
  // ... and over all hosts together: past it, the connection idle longest is closed, so that the
  // pool does not grow with the number of hosts. An idle connection keeps no buffers.
  size_t max_idle_total = 256;
  // Requests (Send and Stream) in flight at once, all hosts together; the others wait their
  // turn, first come, first served, before they take a connection. 0: no bound.
  // `on_in_flight` (optional) is told the number in flight after every change (a gauge).
  int max_in_flight = 0;
  std::function<void(int)> on_in_flight{};
  std::string user_agent = "p2p-ingest";
  std::string client_cert{};    // default client certificate (mutual TLS); empty = none
  std::string client_key{};     // its key, with client_cert
};

class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and collects the whole body (up to `body_limit` bytes, else kTooLarge).
  // Content-Encoding gzip is decoded.
  boost::asio::awaitable<Result<Response>> Send(const Request& request, size_t body_limit);

  // Sends `request`; on a 2xx answer the body is streamed into `sink` as it arrives (decoded
  // from gzip when the server used it) and Response::body stays empty; on any other status the
  // body is collected up to `error_body_limit` into Response::body and `sink` is not called.
  boost::asio::awaitable<Result<Response>> Stream(const Request& request, BodySink& sink,
                                                  size_t error_body_limit = 64 * 1024);

  // Hosts named here (lower-case, no port) use `tls` instead of the default context. A second
  // call for a host replaces its settings. Errors (kInvalid, see tls_context.h) also stay
  // attached to the host: each later https request to it fails with the same message, so a bad
  // file is never silently replaced by the default trust store.
  Result<void> UseTls(const std::string& host, const TlsOptions& tls);

  // Closes idle pooled connections (shutdown).
  void CloseIdle();
  // A new ClientOptions::max_in_flight (> 0; a client made with 0 keeps no bound).
  void SetMaxInFlight(int max_in_flight);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace p2p::http
