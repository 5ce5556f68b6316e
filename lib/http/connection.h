// One HTTP/1.1 connection (plain TCP or TLS) to one (scheme, host, port), used by HttpClient.
//
// Ownership: the connection owns its stream, its read buffer and the reusable body/inflate
// scratch buffers (allocated at the first use of a request, so streaming allocates nothing per
// chunk; ReleaseBuffers() frees them while the connection waits in the pool).
// The ssl::context passed to Open() must outlive the connection.
// Threading: used by one coroutine at a time on the client's io_context thread.
// Errors: Open() returns kNetwork / kTimeout with `what` ("GET /path") and the phase, e.g.
// "GET /x: connect failed: Connection refused", "GET /x: TLS handshake failed: certificate
// verify failed: self-signed certificate". The I/O calls return the raw error_code; the client
// classifies it (it knows the phase).
#pragma once

// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/url.h"

namespace p2p::http::detail {

using RequestMessage = boost::beast::http::request<boost::beast::http::string_body>;
using ResponseParser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;

// "<phase> timed out after <N>ms" (kTimeout) or "<phase> failed: <reason>" (kNetwork).
Error PhaseError(std::string_view what, std::string_view phase, const boost::system::error_code& ec,
                 std::chrono::milliseconds timeout);

class Connection {
 public:
  static constexpr size_t kChunkBytes = 64 * 1024;

  // Resolves, connects and (for https) performs the TLS handshake with SNI and host-name
  // verification. `tls` is required for https URLs.
  static boost::asio::awaitable<Result<std::unique_ptr<Connection>>> Open(
      const Url& url, boost::asio::ssl::context* tls, std::chrono::milliseconds timeout,
      std::string_view what);

  ~Connection();

  boost::asio::awaitable<boost::system::error_code> Write(RequestMessage& request,
                                                          std::chrono::milliseconds timeout);
  boost::asio::awaitable<boost::system::error_code> ReadHeader(ResponseParser& parser,
                                                               std::chrono::milliseconds timeout);
  // Reads some body bytes into the parser's buffer_body (need_buffer is not an error).
  boost::asio::awaitable<boost::system::error_code> ReadSome(ResponseParser& parser,
                                                             std::chrono::milliseconds timeout);

  // Reads at least one and at most `size` bytes straight from the stream to `data`, bypassing
  // the read buffer (the caller has taken what Beast left there); `n` gets the count.
  boost::asio::awaitable<boost::system::error_code> ReadRaw(char* data, size_t size, size_t& n,
                                                            std::chrono::milliseconds timeout);

  // The TLS session (peer certificate, protocol), or null for plain TCP (tls_probe.h).
  SSL* tls_session() { return tls_ ? tls_->native_handle() : nullptr; }

  // An idle pooled connection must not time out on its next use.
  void ClearTimeout() { tcp().expires_never(); }
  bool is_open() const;
  void Close();

  boost::beast::flat_buffer& read_buffer() { return buffer_; }
  // Body bytes are read (or inflated) into these, kChunkBytes at a time; each is kSlack bytes
  // longer so that every chunk handed to a BodySink is followed by readable bytes (kBodySlack).
  static constexpr size_t kSlack = 64;
  std::vector<char>& body_scratch();     // allocated on first use
  std::vector<char>& inflate_scratch();  // allocated on first use
  // Frees the scratch buffers and the read buffer's capacity (an idle pooled connection keeps
  // none). REQUIRES: read_buffer() is empty.
  void ReleaseBuffers();

 private:
  Connection() = default;
  boost::beast::tcp_stream& tcp();

  std::unique_ptr<boost::beast::tcp_stream> plain_;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
  std::vector<char> body_scratch_;
  std::vector<char> inflate_scratch_;
};

}  // namespace p2p::http::detail
