#include "http/connection.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <string>

namespace p2p::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using boost::system::error_code;

Error PhaseError(std::string_view what, std::string_view phase, const error_code& ec,
                 std::chrono::milliseconds timeout) {
  std::string message(what);
  message += ": ";
  message += phase;
  if (ec == beast::error::timeout) {
    message += " timed out after " + std::to_string(timeout.count()) + "ms";
    return MakeError(ErrorKind::kTimeout, std::move(message));
  }
  message += " failed: " + ec.message();
  return MakeError(ErrorKind::kNetwork, std::move(message));
}

namespace {

// Names the verification failure (e.g. "self-signed certificate", "IP address mismatch").
// The message carries no secrets: only OpenSSL's reason text.
Error TlsError(std::string_view what, SSL* ssl, const error_code& ec,
               std::chrono::milliseconds timeout) {
  long verify = SSL_get_verify_result(ssl);
  if (ec != beast::error::timeout && verify != X509_V_OK) {
    return MakeError(ErrorKind::kNetwork,
                     std::string(what) + ": TLS handshake failed: certificate verify failed: " +
                         X509_verify_cert_error_string(verify));
  }
  return PhaseError(what, "TLS handshake", ec, timeout);
}

}  // namespace

Connection::~Connection() { Close(); }

beast::tcp_stream& Connection::tcp() {
  if (tls_) return beast::get_lowest_layer(*tls_);
  return *plain_;
}

std::vector<char>& Connection::body_scratch() {
  if (body_scratch_.empty()) body_scratch_.resize(kChunkBytes + kSlack);
  return body_scratch_;
}

std::vector<char>& Connection::inflate_scratch() {
  if (inflate_scratch_.empty()) inflate_scratch_.resize(kChunkBytes + kSlack);
  return inflate_scratch_;
}

void Connection::ReleaseBuffers() {
  body_scratch_ = {};
  inflate_scratch_ = {};
  buffer_.shrink_to_fit();
}

asio::awaitable<Result<std::unique_ptr<Connection>>> Connection::Open(
    const Url& url, asio::ssl::context* tls, std::chrono::milliseconds timeout,
    std::string_view what) {
  auto ex = co_await asio::this_coro::executor;
  error_code ec;

  // The resolver has no timeout of its own: a timer cancels it.
  auto resolver = std::make_shared<tcp::resolver>(ex);
  asio::steady_timer timer(ex);
  timer.expires_after(timeout);
  std::weak_ptr<tcp::resolver> weak = resolver;
  timer.async_wait([weak](const error_code& wait_ec) {
    if (wait_ec) return;
    if (auto r = weak.lock()) r->cancel();
  });
  auto endpoints = co_await resolver->async_resolve(url.host, url.port,
                                                    asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
  if (ec == asio::error::operation_aborted) ec = beast::error::timeout;
  if (ec) co_return PhaseError(what, "resolve", ec, timeout);

  std::unique_ptr<Connection> conn(new Connection());
  if (url.tls()) {
    if (tls == nullptr) {
      co_return MakeError(ErrorKind::kInternal, std::string(what) + ": no TLS context");
    }
    conn->tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, *tls);
  } else {
    conn->plain_ = std::make_unique<beast::tcp_stream>(ex);
  }

  conn->tcp().expires_after(timeout);
  co_await conn->tcp().async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return PhaseError(what, "connect", ec, timeout);

  if (conn->tls_) {
    SSL* ssl = conn->tls_->native_handle();
    error_code addr_ec;
    asio::ip::make_address(url.host, addr_ec);
    if (!addr_ec) {
      // IP literal: verify against the certificate's IP SANs; no SNI (RFC 6066 forbids it).
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, url.host.c_str());
      SSL_set1_host(ssl, url.host.c_str());
    }
    conn->tcp().expires_after(timeout);
    co_await conn->tls_->async_handshake(asio::ssl::stream_base::client,
                                         asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return TlsError(what, ssl, ec, timeout);
  }
  conn->tcp().expires_never();
  co_return std::move(conn);
}

asio::awaitable<error_code> Connection::Write(RequestMessage& request,
                                              std::chrono::milliseconds timeout) {
  error_code ec;
  tcp().expires_after(timeout);
  if (tls_) {
    co_await beast::http::async_write(*tls_, request,
                                      asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await beast::http::async_write(*plain_, request,
                                      asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return ec;
}

asio::awaitable<error_code> Connection::ReadHeader(ResponseParser& parser,
                                                   std::chrono::milliseconds timeout) {
  error_code ec;
  tcp().expires_after(timeout);
  if (tls_) {
    co_await beast::http::async_read_header(*tls_, buffer_, parser,
                                            asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await beast::http::async_read_header(*plain_, buffer_, parser,
                                            asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return ec;
}

asio::awaitable<error_code> Connection::ReadSome(ResponseParser& parser,
                                                 std::chrono::milliseconds timeout) {
  error_code ec;
  tcp().expires_after(timeout);
  if (tls_) {
    co_await beast::http::async_read_some(*tls_, buffer_, parser,
                                          asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await beast::http::async_read_some(*plain_, buffer_, parser,
                                          asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec == beast::http::error::need_buffer) ec = {};
  co_return ec;
}

asio::awaitable<error_code> Connection::ReadRaw(char* data, size_t size, size_t& n,
                                                std::chrono::milliseconds timeout) {
  error_code ec;
  tcp().expires_after(timeout);
  if (tls_) {
    n = co_await tls_->async_read_some(asio::buffer(data, size),
                                       asio::redirect_error(asio::use_awaitable, ec));
  } else {
    n = co_await plain_->async_read_some(asio::buffer(data, size),
                                         asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return ec;
}

bool Connection::is_open() const {
  if (tls_) return beast::get_lowest_layer(*tls_).socket().is_open();
  return plain_ && plain_->socket().is_open();
}

void Connection::Close() {
  if (!plain_ && !tls_) return;
  error_code ignored;
  tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp().close();
}

}  // namespace p2p::http::detail
