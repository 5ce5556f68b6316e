// One TLS handshake to a payer's host, made the way HttpClient makes it (same verifying context
// from tls_context.h, SNI, host-name check), kept open just long enough to read what the server
// presented: for `p2p-ingestd probe`, which shows an operator the certificate before go-live.
//
// Mutual TLS: with TLS 1.3 a server checks the client certificate after the client has finished
// its handshake, so a refusal only shows on the first read. ProbeTls therefore sends one
// `GET request_url` (no token, no body) on the new connection and reads the answer's header;
// any HTTP answer, whatever its status, means the server accepted the connection. The connection
// is closed afterwards, never pooled.
//
// Threading: a coroutine on the caller's io_context. Errors: kInvalid for unusable TLS files (as
// tls_context.h); kNetwork / kTimeout as Connection::Open ("TLS handshake failed: certificate
// verify failed: ..."); a TLS alert on the request is kNetwork "<host:port>: client certificate
// not accepted: <OpenSSL reason>" (or "refused after the handshake (no client certificate
// configured): ..."), another failure "<host:port>: request after the handshake failed: ..." (or
// timed out). Messages carry no key material.
#pragma once

// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "core/url.h"
#include "http/tls_context.h"

namespace p2p::http {

struct TlsPeer {
  std::string subject;    // server certificate subject, RFC 2253 one line ("CN=localhost,O=x")
  std::string issuer;     // its issuer, same form
  int64_t not_after = 0;  // its notAfter, seconds since the epoch (UTC)
  std::string protocol;   // negotiated version, e.g. "TLSv1.3"
  // Subject of the client certificate presented and accepted; "" when none was configured.
  std::string client_subject;
};

// `request_url` must be https. Each phase (resolve, connect+handshake, write, read) has `timeout`.
boost::asio::awaitable<Result<TlsPeer>> ProbeTls(const Url& request_url, const TlsOptions& tls,
                                                 std::chrono::milliseconds timeout);

}  // namespace p2p::http
