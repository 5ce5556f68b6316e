// `p2p-ingestd probe`: tests one payer's configuration before go-live, with the daemon's own
// HTTP client, TLS contexts and token code, and sends no member data. The checks, in order:
//   tls <host:port>      the handshake to base_url's host (and to token_url's when that is another
//                        host): protocol, certificate subject, issuer and notAfter (warn under 30
//                        days); with payers[].tls.client_cert, that the server accepts it. A plain
//                        http URL gets a `skip` line.
//   smart-configuration  only for auth.method private_key_jwt or auth.discover:
//                        GET {base_url}/.well-known/smart-configuration: token_endpoint usable
//                        (trusted host, no https->http downgrade), our auth method listed in
//                        token_endpoint_auth_methods_supported, and for private_key_jwt our
//                        algorithm in token_endpoint_auth_signing_alg_values_supported.
//   token                one token request as configured; a refusal names the OAuth error code.
//   metadata             GET {base_url}/metadata (with the token when it was granted): a
//                        CapabilityStatement; FHIR version (warn unless 4.0.x); whether
//                        $member-match, $bulk-member-match and $export are advertised (an
//                        operation this payer's configuration uses and the server does not
//                        advertise is a warning: servers such as 1up advertise little).
// Each network phase of a check has the payer's request_timeout; nothing is retried.
// Details never hold the client secret, a key or a token (they are scrubbed once more before a
// check is reported).
//
// The Judge* functions are pure (they turn an outcome into a check) and unit-tested; ProbePayer
// does the I/O. Threading: ProbePayer is a coroutine on the client's io_context thread.
#pragma once

// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "config/options.h"
#include "core/result.h"
#include "http/client.h"
#include "http/tls_probe.h"

namespace p2p::pipeline {

enum class ProbeResult { kOk, kWarn, kFail, kSkip };

// "ok" | "warn" | "FAIL" | "skip".
std::string_view ProbeResultName(ProbeResult result);

struct ProbeCheck {
  std::string name;  // "tls 127.0.0.1:8443", "smart-configuration", "token", "metadata"
  ProbeResult result = ProbeResult::kOk;
  std::string detail;
  int64_t elapsed_ms = 0;
};

// Certificates expiring sooner than this are a warning.
inline constexpr int64_t kCertificateWarnDays = 30;

// `peer` is ProbeTls's outcome for `name`'s host; `now_unix` the current time.
ProbeCheck JudgeTls(std::string name, const Result<http::TlsPeer>& peer, int64_t now_unix);

// `answer` to GET .well-known/smart-configuration. `algorithm` is the JWS algorithm
// private_key_jwt signs with ("RS384" / "ES384"), or the error that kept it from being known;
// ignored for the other auth methods.
ProbeCheck JudgeSmartConfiguration(const PayerOptions& payer, const Result<http::Response>& answer,
                                   const Result<std::string>& algorithm);

// The token cache's outcome (the token itself is never shown).
ProbeCheck JudgeToken(const PayerOptions& payer, const Result<std::string>& token);

// `answer` to GET {base_url}/metadata.
ProbeCheck JudgeMetadata(const PayerOptions& payer, const Result<http::Response>& answer);

// Runs every check for `payer` and hands each to `report` as soon as it is done. `client` should
// be fresh (it gets the payer's tls settings). Returns the number of failed checks.
boost::asio::awaitable<int> ProbePayer(http::HttpClient& client, const PayerOptions& payer,
                                       std::function<void(const ProbeCheck&)> report);

}  // namespace p2p::pipeline
