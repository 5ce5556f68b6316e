#include "auth/token_cache.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <vector>

#include "auth/jwk.h"
#include "auth/jwt_assertion.h"
#include "auth/smart_discovery.h"
#include "fhir/token_response.h"

namespace p2p::auth {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr size_t kTokenBodyLimit = 64 * 1024;

// application/x-www-form-urlencoded (WHATWG): unreserved bytes as-is, space as '+'.
std::string FormEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out += c;
    } else if (u == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string Base64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Cache lifetime: min(90 %, expires_in - 60 s), at least 1 s.
milliseconds Lifetime(int64_t expires_in_s) {
  const milliseconds full(expires_in_s * 1000);
  const milliseconds early = std::min(full * 9 / 10, full - milliseconds(60000));
  return std::max(early, milliseconds(1000));
}

// Keeps an OAuth error code fit for a log line: short, printable, and never the secret.
std::string SafeCode(std::string code, const std::string& secret) {
  if (code.size() > 64) code.resize(64);
  for (char& c : code) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  if (!secret.empty() && code.find(secret) != std::string::npos) return "<redacted>";
  return code;
}

// One in-flight fetch; later Get() calls wait on a timer that is cancelled when it completes.
struct Flight {
  std::optional<Result<std::string>> result;
  std::vector<asio::steady_timer*> waiters;
};

constexpr size_t kDiscoveryBodyLimit = 64 * 1024;
constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct TokenCache::Impl {
  http::HttpClient& client;
  const AuthOptions& auth;
  milliseconds timeout;
  Clock now;
  std::string base_url;                    // for discovery; empty: none possible
  std::vector<std::string> trusted_hosts;  // for discovery
  std::string token;
  steady_clock::time_point expires{};
  std::shared_ptr<Flight> flight;  // non-null while a fetch is in progress
  int fetches = 0;
  std::optional<Url> token_url;      // configured or discovered, once known
  std::optional<SigningKey> key;     // private_key_jwt, parsed on first use

  // The token URL: configured, or read from the SMART configuration document.
  asio::awaitable<Result<Url>> TokenUrl() {
    if (token_url) co_return *token_url;
    if (!auth.token_url.empty() && !auth.discover) {
      Result<Url> url = Url::Parse(auth.token_url);
      if (!url) co_return std::move(url).error().Context("token endpoint");
      token_url = *url;
      co_return *url;
    }
    Result<Url> base = Url::Parse(base_url.empty() ? std::string_view("-") : base_url);
    if (!base) {
      co_return MakeError(ErrorKind::kInvalid,
                          "smart-configuration: no token_url and no base_url to discover it from");
    }
    http::Request req;
    req.url = *base;
    req.url.target = std::string(base->Path()) + std::string(kSmartConfigurationPath);
    if (req.url.target.rfind("//", 0) == 0) req.url.target.erase(0, 1);
    req.timeout = timeout;
    req.headers.push_back({"Accept", "application/json"});
    Result<http::Response> res = co_await client.Send(req, kDiscoveryBodyLimit);
    if (!res) co_return std::move(res).error().Context("smart-configuration");
    if (res->status != 200) {
      co_return MakeError(ErrorKind::kHttpStatus,
                          "smart-configuration: " + std::to_string(res->status), res->status);
    }
    Result<SmartConfiguration> config = ReadSmartConfiguration(res->body);
    if (!config) co_return std::move(config).error();
    Result<Url> url = CheckTokenEndpoint(*config, *base, trusted_hosts, auth.method);
    if (!url) co_return std::move(url).error();
    token_url = *url;
    co_return *url;
  }

  // private_key_jwt: client_assertion_type and a fresh client_assertion for `url`.
  Result<std::string> AssertionFields(const Url& url) {
    if (!key) {
      Result<SigningKey> parsed = ParseSigningKey(auth.private_key, auth.key_id, auth.algorithm);
      if (!parsed) return std::move(parsed).error().Context("private key");
      key = std::move(*parsed);
    }
    Result<std::string> jti = NewJti();
    if (!jti) return std::move(jti).error();
    AssertionInput input{auth.client_id, url.ToString(), std::move(*jti), auth.jku, UnixNow()};
    Result<std::string> jwt = SignClientAssertion(*key, input);
    if (!jwt) return std::move(jwt).error();
    return "&client_assertion_type=" + FormEncode(kJwtBearer) +
           "&client_assertion=" + FormEncode(*jwt);
  }

  Result<http::Request> BuildRequest(const Url& url) {
    http::Request req;
    req.method = "POST";
    req.url = url;
    req.timeout = timeout;
    req.headers.push_back({"Accept", "application/json"});
    req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    req.body = "grant_type=client_credentials";
    if (auth.method == AuthMethod::kPrivateKeyJwt) {
      Result<std::string> fields = AssertionFields(url);
      if (!fields) return std::move(fields).error();
      req.body += *fields;
    } else if (auth.method == AuthMethod::kClientSecretBasic) {
      // RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
      req.headers.push_back({"Authorization", "Basic " + Base64(FormEncode(auth.client_id) + ":" +
                                                                FormEncode(auth.client_secret))});
    } else {
      req.body += "&client_id=" + FormEncode(auth.client_id);
      req.body += "&client_secret=" + FormEncode(auth.client_secret);
    }
    if (!auth.scope.empty()) req.body += "&scope=" + FormEncode(auth.scope);
    return req;
  }

  asio::awaitable<Result<std::string>> Fetch() {
    Result<Url> url = co_await TokenUrl();
    if (!url) co_return std::move(url).error();
    Result<http::Request> req = BuildRequest(*url);
    if (!req) co_return std::move(req).error();
    Result<http::Response> res = co_await client.Send(*req, kTokenBodyLimit);
    if (!res) co_return std::move(res).error().Context("token endpoint");
    const int status = res->status;
    if (status / 100 == 2) {
      Result<fhir::TokenResponse> parsed = fhir::ReadTokenResponse(res->body);
      if (!parsed) co_return std::move(parsed).error().Context("token endpoint");
      token = parsed->access_token;
      expires = now() + Lifetime(parsed->expires_in);
      ++fetches;
      co_return token;
    }
    std::string message = "token endpoint: " + std::to_string(status);
    if (status / 100 == 4 && status != 408 && status != 429) {
      std::string code = SafeCode(fhir::ReadOAuthError(res->body), auth.client_secret);
      if (!code.empty()) message += " " + code;
      co_return MakeError(ErrorKind::kAuth, std::move(message), status);
    }
    co_return MakeError(ErrorKind::kHttpStatus, std::move(message), status);
  }
};

TokenCache::TokenCache(http::HttpClient& client, const AuthOptions& auth,
                       milliseconds request_timeout, Clock now)
    : impl_(new Impl{client, auth, request_timeout, std::move(now), {}, {}, {}, {}, nullptr, 0, {},
                     {}}) {}

TokenCache::TokenCache(http::HttpClient& client, const PayerOptions& payer, Clock now)
    : impl_(new Impl{client, payer.auth, payer.request_timeout, std::move(now), payer.base_url,
                     payer.trusted_hosts, {}, {}, nullptr, 0, {}, {}}) {}

TokenCache::~TokenCache() = default;

asio::awaitable<Result<std::string>> TokenCache::Get() {
  Impl& s = *impl_;
  if (!s.token.empty() && s.now() < s.expires) co_return s.token;

  if (std::shared_ptr<Flight> flight = s.flight) {
    asio::steady_timer timer(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
    flight->waiters.push_back(&timer);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    co_return *flight->result;
  }

  auto flight = std::make_shared<Flight>();
  s.flight = flight;
  Result<std::string> result = co_await s.Fetch();
  s.flight.reset();
  flight->result = result;
  for (asio::steady_timer* waiter : flight->waiters) waiter->cancel();
  co_return result;
}

void TokenCache::Invalidate(const std::string& token) {
  if (!token.empty() && token == impl_->token) {
    impl_->token.clear();
    impl_->expires = {};
  }
}

int TokenCache::fetches() const { return impl_->fetches; }

}  // namespace p2p::auth
