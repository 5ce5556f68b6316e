// Client-side TLS settings and the OpenSSL context built from them. Every context made here
// verifies the server: the certificate chain against the system store plus `ca_file` (when set),
// TLS 1.2 at least; the host name (or IP) and SNI are set per connection by Connection::Open.
// There is no switch to turn verification off.
//
// Ownership: MakeClientTlsContext returns a shared context; HttpClient keeps it for as long as a
// connection may use it. Threading: building a context reads files; do it at start, not per
// request. Errors (kInvalid), naming the setting and the file but never a key's bytes:
//   "tls.ca_file /x: cannot load: <reason>"
//   "tls.client_cert and tls.client_key go together"
//   "tls.client_cert /x: cannot load: <reason>"
//   "tls.client_key /x: is readable by group or others (chmod 600)"
//   "tls.client_key /x: cannot load: <reason>"
//   "tls.client_key /x: does not match tls.client_cert"
#pragma once

// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "core/result.h"

namespace p2p::http {

struct TlsOptions {
  std::string ca_file{};      // extra trust anchors (PEM); empty = the system store only
  std::string client_cert{};  // PEM chain presented for mutual TLS; empty = none
  std::string client_key{};   // its private key (PEM, mode 0600 or stricter); with client_cert

  bool operator==(const TlsOptions&) const = default;
};

// Builds a verifying client context (see above).
Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(const TlsOptions& options);

}  // namespace p2p::http
