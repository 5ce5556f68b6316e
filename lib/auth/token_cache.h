// Per-payer OAuth 2.0 client-credentials token (RFC 6749 §4.4), shared by all jobs of the payer.
// Client authentication: client_secret_post, client_secret_basic, or private_key_jwt (SMART
// Backend Services: a fresh signed assertion with a new jti for every fetch, see
// jwt_assertion.h). The token URL is auth.token_url, or is discovered once from
// {base_url}/.well-known/smart-configuration (see smart_discovery.h) and kept for the cache's
// life; a failed discovery is tried again on the next Get().
// Cached until shortly before expires_in (60 s or 10 % early, whichever is less); Invalidate()
// after a 401 makes the next Get() fetch a new one. Concurrent Get() calls while a fetch is in
// flight wait for that one fetch (single flight).
//
// Threading: lives on the daemon's io_context thread; not thread-safe.
// Errors from Get(): token endpoint unreachable / 5xx / 429 -> kNetwork / kTimeout / kHttpStatus
// (retryable by the caller); 400/401 -> kAuth with the OAuth "error" code in the message (never
// the secret, never the response body verbatim). private_key_jwt: an unusable key -> kInvalid
// ("private key: ..."). Discovery: as smart_discovery.h, and the GET's failures as above.
#pragma once

#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "http/client.h"
#include "config/options.h"

namespace p2p::auth {

class TokenCache {
 public:
  // `client` and `auth` must outlive the cache. `now` is injectable for tests.
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  TokenCache(http::HttpClient& client, const AuthOptions& auth,
             std::chrono::milliseconds request_timeout,
             Clock now = [] { return std::chrono::steady_clock::now(); });
  // As above with the payer's auth and request_timeout; also knows base_url and trusted_hosts,
  // which token URL discovery needs. `payer` must outlive the cache.
  TokenCache(http::HttpClient& client, const PayerOptions& payer,
             Clock now = [] { return std::chrono::steady_clock::now(); });
  ~TokenCache();

  // A valid access token (fetching one if needed).
  boost::asio::awaitable<Result<std::string>> Get();

  // Drop `token` if it is still the cached one (called after a 401 with it).
  void Invalidate(const std::string& token);

  // Number of successful fetches so far (tests, metrics).
  int fetches() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace p2p::auth
