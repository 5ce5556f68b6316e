// Stage 2 (ValidateOptions, pure) of config.h.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

#include <libpq-fe.h>

#include "config/config.h"

namespace p2p {
namespace {

constexpr std::size_t kMaxIdentifierBytes = 256;

class Checker {
 public:
  explicit Checker(std::vector<ConfigProblem>& problems) : problems_(problems) {}
  void Add(std::string path, std::string message) {
    problems_.push_back({std::move(path), std::move(message), 0});
  }
  void Required(const std::string& value, std::string path) {
    if (value.empty()) Add(std::move(path), "is required");
  }
  void Positive(Millis value, std::string path) {
    if (value.count() <= 0) Add(std::move(path), "must be greater than 0");
  }
  void IntRange(int value, int lo, int hi, std::string path) {
    if (value < lo || value > hi) {
      Add(std::move(path), "must be " + std::to_string(lo) + ".." + std::to_string(hi));
    }
  }

 private:
  std::vector<ConfigProblem>& problems_;
};

bool IsLoopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.substr(0, 4) == "127.";
}

bool ValidPort(std::string_view text, int min) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() && port >= min &&
         port <= 65535;
}

struct UrlParts {
  std::string scheme;  // lower-case
  std::string host;    // lower-case, IPv6 without brackets
  std::string rest;    // path, query, fragment
};

// Splits an absolute http(s) URL; nullopt when it is not one (no scheme, other scheme, empty host,
// user info, bad port).
std::optional<UrlParts> SplitUrl(std::string_view url) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
  };
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  UrlParts parts;
  parts.scheme = lower(url.substr(0, sep));
  if (parts.scheme != "http" && parts.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(sep + 3);
  const auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  parts.rest = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (!ValidPort(port, 1)) return std::nullopt;
    }
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (!ValidPort(port, 1)) return std::nullopt;
  }
  if (host.empty() || host.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  parts.host = lower(host);
  return parts;
}

// base_url (strict: no query, no trailing slash) or token_url.
void CheckUrl(Checker& c, const std::string& url, const std::string& path, bool is_base,
              bool allow_insecure_http) {
  if (url.empty()) return c.Add(path, "is required");
  std::optional<UrlParts> parts = SplitUrl(url);
  if (!parts) return c.Add(path, "must be an absolute http or https URL");
  if (parts->rest.find('#') != std::string::npos ||
      (is_base && parts->rest.find('?') != std::string::npos)) {
    return c.Add(path, is_base ? "must not have a query or fragment" : "must not have a fragment");
  }
  if (is_base && url.back() == '/') return c.Add(path, "must not end with /");
  if (parts->scheme == "http" && !IsLoopback(parts->host) && !allow_insecure_http) {
    c.Add(path, "plain http is allowed only to loopback hosts (set allow_insecure_http: true)");
  }
}

// The three ways to name a secret (`prefix`_file, _env, _credential): at most one may be set, and
// one must be when `required`.
void CheckSecretSources(Checker& c, const std::string& path, const std::string& prefix,
                        const std::string& file, const std::string& env,
                        const std::string& credential, bool required) {
  const std::string names = prefix + "_file, " + prefix + "_env or " + prefix + "_credential";
  const int set = int{!file.empty()} + int{!env.empty()} + int{!credential.empty()};
  if (set > 1) c.Add(path, "only one of " + names + " may be set");
  if (set == 0 && required) c.Add(path, "one of " + names + " is required");
  // A credential is a file name inside $CREDENTIALS_DIRECTORY.
  if (credential.find('/') != std::string::npos) {
    c.Add(path + "." + prefix + "_credential", "must be a credential name without /");
  }
}

bool ValidPayerId(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '_' || ch == '-';
  });
}

}  // namespace

bool ValidInstanceId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && id != "." && id != ".." &&
         std::all_of(id.begin(), id.end(), [](unsigned char ch) {
           return std::isalnum(ch) || ch == '_' || ch == '.' || ch == '-';
         });
}

namespace {

bool ValidHostName(const std::string& host) {
  if (host.empty()) return false;
  const bool v6 = std::count(host.begin(), host.end(), ':') >= 2;
  return std::all_of(host.begin(), host.end(), [v6](unsigned char ch) {
    return std::isalnum(ch) || ch == '.' || ch == '-' || (v6 && ch == ':');
  });
}

void CheckStatus(Checker& c, const StatusOptions& status) {
  CheckSecretSources(c, "status", "token", status.token_file, status.token_env,
                     status.token_credential, false);
  if (!status.enabled()) return;
  std::string_view listen = status.listen;
  std::string_view host;
  std::string_view port;
  if (!listen.empty() && listen.front() == '[') {
    const auto close = listen.find("]:");
    if (close != std::string_view::npos) {
      host = listen.substr(1, close - 1);
      port = listen.substr(close + 2);
    }
  } else if (const auto colon = listen.rfind(':'); colon != std::string_view::npos) {
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.empty() || !ValidPort(port, 0) ||
      (listen.front() != '[' && host.find(':') != host.npos)) {
    return c.Add("status.listen", "must be HOST:PORT (e.g. 127.0.0.1:8787) or off");
  }
  const bool has_token =
      !status.token_file.empty() || !status.token_env.empty() || !status.token_credential.empty();
  if (!IsLoopback(host) && !has_token) {
    c.Add("status",
          "a token is required when listen is not a loopback address: set token_file, "
          "token_env or token_credential");
  }
}

// The hosts whose TLS connections use the payer's tls settings (see HttpClient::UseTls).
std::vector<std::string> TlsHosts(const PayerOptions& payer) {
  std::vector<std::string> hosts = payer.trusted_hosts;
  for (const std::string* url : {&payer.base_url, &payer.auth.token_url}) {
    if (std::optional<UrlParts> parts = SplitUrl(*url)) hosts.push_back(parts->host);
  }
  return hosts;
}

// Two payers on one host share its TLS connections, so they must agree on the tls settings.
void CheckSharedTlsHosts(Checker& c, const PayerOptions& a, const PayerOptions& b,
                         const std::string& p, std::size_t j) {
  if (a.tls == b.tls) return;
  const std::vector<std::string> other = TlsHosts(b);
  for (const std::string& host : TlsHosts(a)) {
    if (std::find(other.begin(), other.end(), host) != other.end()) {
      return c.Add(p + ".tls", "differs from payers[" + std::to_string(j) + "].tls on shared host " +
                                   host);
    }
  }
}

// auth.*: a token_url, or discovery; a secret for the client_secret methods, a key for
// private_key_jwt, and never the other method's settings. A client secret goes to a discovered
// token URL only on `discover: true`; for private_key_jwt an omitted token_url means discovery
// (the assertion is bound to its audience, so it is no use elsewhere).
void CheckAuth(Checker& c, const PayerOptions& payer, const std::string& p) {
  const AuthOptions& auth = payer.auth;
  const bool jwt = auth.method == AuthMethod::kPrivateKeyJwt;
  if (auth.discover && !auth.token_url.empty()) {
    c.Add(p + ".token_url", "must be omitted when discover is true");
  } else if (!auth.discover && !(jwt && auth.token_url.empty())) {
    CheckUrl(c, auth.token_url, p + ".token_url", false, payer.allow_insecure_http);
  }
  c.Required(auth.client_id, p + ".client_id");
  CheckSecretSources(c, p, "client_secret", auth.client_secret_file, auth.client_secret_env,
                     auth.client_secret_credential, !jwt);
  const int keys = int{!auth.private_key_file.empty()} + int{!auth.jwks_file.empty()} +
                   int{!auth.private_key_credential.empty()};
  if (jwt) {
    if (keys != 1) {
      c.Add(p, "exactly one of private_key_file, private_key_credential or jwks_file is required "
               "for private_key_jwt");
    }
    if (auth.private_key_credential.find('/') != std::string::npos) {
      c.Add(p + ".private_key_credential", "must be a credential name without /");
    }
    if (!auth.client_secret_file.empty() || !auth.client_secret_env.empty() ||
        !auth.client_secret_credential.empty()) {
      c.Add(p, "a client secret is not used with private_key_jwt");
    }
    if (!auth.jku.empty() && !SplitUrl(auth.jku)) {
      c.Add(p + ".jku", "must be an absolute http or https URL");
    }
  } else if (keys != 0 || !auth.key_id.empty() || !auth.jku.empty() ||
             auth.algorithm != JwtAlgorithm::kFromKey) {
    c.Add(p, "private_key_file, private_key_credential, jwks_file, key_id, algorithm and jku are "
             "only for private_key_jwt");
  }
}

// [A-Z][A-Za-z]{1,63}: the shape of a FHIR resource type name.
bool LooksLikeTypeName(std::string_view t) {
  if (t.size() < 2 || t.size() > 64 || t[0] < 'A' || t[0] > 'Z') return false;
  return std::all_of(t.begin(), t.end(),
                     [](char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'); });
}

// payers[].export: operation paths, `_type` and `_typeFilter`.
void CheckExport(Checker& c, const ExportOptions& e, const std::string& p) {
  if (e.davinci_path.empty() || e.davinci_path.front() != '/') {
    c.Add(p + ".davinci_path", "must start with /");
  } else if (e.davinci_path.find("{group_id}") == std::string::npos) {
    c.Add(p + ".davinci_path", "must contain {group_id}");
  }
  if (e.patient_path.empty() || e.patient_path.front() != '/') {
    c.Add(p + ".patient_path", "must start with /");
  }
  for (std::size_t k = 0; k < e.types.size(); ++k) {
    if (!LooksLikeTypeName(e.types[k])) {
      c.Add(p + ".types[" + std::to_string(k) + "]", "must be a FHIR resource type");
    }
  }
  for (std::size_t k = 0; k < e.type_filters.size(); ++k) {
    const std::string& f = e.type_filters[k];
    const std::string at = p + ".type_filters[" + std::to_string(k) + "]";
    const std::size_t q = f.find('?');
    const bool printable = std::all_of(f.begin(), f.end(), [](char ch) {
      return static_cast<unsigned char>(ch) > 0x20 && static_cast<unsigned char>(ch) < 0x7f;
    });
    if (q == std::string::npos || q + 1 == f.size() || !LooksLikeTypeName(f.substr(0, q)) ||
        !printable) {
      c.Add(at, "must be a search query Type?param=value (no spaces)");
    } else if (!e.types.empty() &&
               std::find(e.types.begin(), e.types.end(), f.substr(0, q)) == e.types.end()) {
      c.Add(at, "type " + f.substr(0, q) + " is not in export.types");
    }
  }
}

// An Identifier.system: "urn:" and more, or an RFC 3986 scheme followed by "://" and more; no
// spaces or control characters.
bool ValidIdentifierSystem(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdentifierBytes) return false;
  const bool printable = std::all_of(s.begin(), s.end(), [](char ch) {
    return static_cast<unsigned char>(ch) > 0x20 && static_cast<unsigned char>(ch) != 0x7f;
  });
  if (!printable) return false;
  auto lower_prefix = [s](std::string_view prefix) {
    return s.size() > prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), s.begin(),
                      [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
  };
  if (lower_prefix("urn:")) return true;
  const std::size_t sep = s.find("://");
  if (sep == std::string_view::npos || sep == 0 || sep + 3 == s.size() ||
      !std::isalpha(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(sep), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '-' || ch == '.';
  });
}

// self.identifier / payers[].identifier: optional, but complete when given.
void CheckIdentifier(Checker& c, const PlanIdentifier& id, const std::string& path) {
  if (id.empty()) return;
  if (id.system.empty()) {
    c.Add(path + ".system", "is required");
  } else if (!ValidIdentifierSystem(id.system)) {
    c.Add(path + ".system",
          "must be an absolute URI (such as http://hl7.org/fhir/sid/us-npi) or a urn:");
  }
  if (id.value.empty()) {
    c.Add(path + ".value", "is required");
  } else if (id.value.size() > kMaxIdentifierBytes ||
             std::any_of(id.value.begin(), id.value.end(), [](char ch) {
               return static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) == 0x7f;
             })) {
    c.Add(path + ".value", "must be at most 256 bytes without control characters");
  }
}

void CheckPayer(Checker& c, const PayerOptions& payer, const std::string& p) {
  if (payer.id.empty()) {
    c.Add(p + ".id", "is required");
  } else if (!ValidPayerId(payer.id)) {
    c.Add(p + ".id", "must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -");
  }
  CheckIdentifier(c, payer.identifier, p + ".identifier");
  CheckUrl(c, payer.base_url, p + ".base_url", true, payer.allow_insecure_http);
  if (payer.member_match_path.empty() || payer.member_match_path.front() != '/') {
    c.Add(p + ".member_match_path", "must start with /");
  }
  if (payer.export_path.empty() || payer.export_path.front() != '/') {
    c.Add(p + ".export_path", "must start with /");
  } else if (payer.export_path.find("{group_id}") == std::string::npos) {
    c.Add(p + ".export_path", "must contain {group_id}");
  }
  CheckAuth(c, payer, p + ".auth");
  if (payer.tls.client_cert.empty() != payer.tls.client_key.empty()) {
    c.Add(p + ".tls", "client_cert and client_key go together");
  }
  for (std::size_t k = 0; k < payer.trusted_hosts.size(); ++k) {
    if (!ValidHostName(payer.trusted_hosts[k])) {
      c.Add(p + ".trusted_hosts[" + std::to_string(k) + "]",
            "must be a host name (no scheme, port or path)");
    }
  }
  c.IntRange(payer.limits.concurrency, 1, 256, p + ".limits.concurrency");
  const double rps = payer.limits.requests_per_second;
  if (!(rps > 0 && rps <= 10000)) {
    c.Add(p + ".limits.requests_per_second", "must be greater than 0 and at most 10000");
  }
  if (payer.limits.max_throttle_wait < Millis(1000) ||
      payer.limits.max_throttle_wait > Millis(24LL * 3600 * 1000)) {
    c.Add(p + ".limits.max_throttle_wait", "must be 1s..24h");
  }
  c.IntRange(payer.retry.max_attempts, 1, 100, p + ".retry.max_attempts");
  c.Positive(payer.retry.give_up_after, p + ".retry.give_up_after");
  c.Positive(payer.retry.max_delay, p + ".retry.max_delay");
  if (payer.retry.base_delay > payer.retry.max_delay) {
    c.Add(p + ".retry.base_delay", "must not exceed retry.max_delay");
  }
  c.Positive(payer.poll.min_interval, p + ".poll.min_interval");
  if (payer.poll.min_interval > payer.poll.max_interval) {
    c.Add(p + ".poll.min_interval", "must not exceed poll.max_interval");
  }
  c.Positive(payer.poll.timeout, p + ".poll.timeout");
  c.IntRange(payer.export_job.max_rekicks, 0, 100, p + ".export.max_rekicks");
  c.IntRange(payer.export_job.max_expired_rekicks, 0, 100, p + ".export.max_expired_rekicks");
  CheckExport(c, payer.export_job, p + ".export");
  c.IntRange(payer.match.batch_size, 1, 1000, p + ".match.batch_size");
  if (payer.match.batch_wait.count() < 0 || payer.match.batch_wait > Millis(24LL * 3600 * 1000)) {
    c.Add(p + ".match.batch_wait", "must be 0..24h");
  }
  if (payer.match.bulk_path.empty() || payer.match.bulk_path.front() != '/') {
    c.Add(p + ".match.bulk_path", "must start with /");
  }
  c.Positive(payer.request_timeout, p + ".request_timeout");
}

// libpq's reason for a dsn it cannot read, without the dsn's text: libpq quotes the whole URI
// (user:password included) or a part of it. Quoted text other than a connection keyword or a
// single character becomes "...".
std::string DsnProblemWithoutItsText(std::string why, const std::string& dsn) {
  for (size_t at; !dsn.empty() && (at = why.find(dsn)) != std::string::npos;) {
    why.replace(at, dsn.size(), "...");
  }
  std::set<std::string> keywords;
  if (PQconninfoOption* all = PQconninfoParse("", nullptr); all != nullptr) {
    for (PQconninfoOption* o = all; o->keyword != nullptr; ++o) keywords.insert(o->keyword);
    PQconninfoFree(all);
  }
  std::string out;
  size_t at = 0;
  for (size_t open; (open = why.find('"', at)) != std::string::npos;) {
    const size_t close = why.find('"', open + 1);
    if (close == std::string::npos) break;  // the rest is dropped with the unpaired quote
    const std::string quoted = why.substr(open + 1, close - open - 1);
    out.append(why, at, open + 1 - at)
        .append(quoted.size() <= 1 || keywords.count(quoted) != 0 ? quoted : "...")
        .append("\"");
    at = close + 1;
  }
  if (why.find('"', at) == std::string::npos) out.append(why, at);
  return out;
}

// A PostgreSQL connection (store or state, `prefix`): a parseable dsn without a password, a
// plain schema name, at most one password source.
void CheckPgConnection(Checker& c, const std::string& prefix, const std::string& dsn,
                       const std::string& schema, const std::string& password_file,
                       const std::string& password_env, const std::string& password_credential,
                       const std::string& kind_key) {
  CheckSecretSources(c, prefix, "password", password_file, password_env, password_credential,
                     false);
  const bool schema_ok =
      !schema.empty() && schema.size() <= 63 &&
      (std::islower(static_cast<unsigned char>(schema[0])) || schema[0] == '_') &&
      std::all_of(schema.begin(), schema.end(),
                  [](unsigned char ch) { return std::islower(ch) || std::isdigit(ch) || ch == '_'; }) &&
      schema.rfind("pg_", 0) != 0;  // PostgreSQL reserves pg_* for its own schemas
  if (!schema_ok) {
    c.Add(prefix + ".schema", "must be a lower-case SQL name ([a-z_][a-z0-9_]*, 63 at most, not pg_*)");
  }
  if (dsn.empty()) return c.Add(prefix + ".dsn", "is required for " + kind_key + ": postgres");
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts == nullptr) {
    std::string why = err != nullptr ? err : "cannot be parsed";
    PQfreemem(err);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return c.Add(prefix + ".dsn",
                 "not a libpq connection string: " + DsnProblemWithoutItsText(why, dsn));
  }
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    if (std::string_view(o->keyword) == "password") {
      std::string use = "must not hold a password; use ";
      for (const char* key : {".password_file, ", ".password_env, ", ".password_credential"}) {
        use.append(prefix).append(key);
      }
      c.Add(prefix + ".dsn", use + " or libpq's passfile");
    }
  }
  PQconninfoFree(opts);
}

// store.kind postgres: see CheckPgConnection. The other kinds need store.path.
void CheckStore(Checker& c, const StoreOptions& store) {
  if (store.kind != StoreKind::kPostgres) {
    c.Required(store.path, "store.path");
    if (!store.dsn.empty()) c.Add("store.dsn", "only for store.kind: postgres");
    return;
  }
  if (!store.path.empty()) c.Add("store.path", "not used by store.kind: postgres (set store.dsn)");
  CheckPgConnection(c, "store", store.dsn, store.schema, store.password_file, store.password_env,
                    store.password_credential, "store.kind");
}

// state.kind sqlite needs state.path; postgres a connection (CheckPgConnection), a lease
// timeout, and the PostgreSQL store: daemons on several hosts cannot share local files.
void CheckState(Checker& c, const StateOptions& state, const StoreOptions& store) {
  if (state.kind != StateKind::kPostgres) {
    c.Required(state.path, "state.path");
    if (!state.dsn.empty()) c.Add("state.dsn", "only for state.kind: postgres");
    return;
  }
  if (!state.path.empty()) c.Add("state.path", "not used by state.kind: postgres (set state.dsn)");
  CheckPgConnection(c, "state", state.dsn, state.schema, state.password_file, state.password_env,
                    state.password_credential, "state.kind");
  if (state.lease_timeout < Millis(5000) || state.lease_timeout > Millis(600000)) {
    c.Add("state.lease_timeout", "must be 5s..10m");
  }
  if (store.kind != StoreKind::kPostgres) {
    c.Add("state.kind", std::string("postgres requires store.kind: postgres (store.kind is ") +
                            StoreKindName(store.kind) +
                            "): daemons on several hosts cannot share local files");
  }
}

}  // namespace

std::vector<ConfigProblem> ValidateOptions(const Options& o) {
  std::vector<ConfigProblem> problems;
  Checker c(problems);
  CheckIdentifier(c, o.self.identifier, "self.identifier");
  if (!o.instance.id.empty() && !ValidInstanceId(o.instance.id)) {  // empty: the host name
    c.Add("instance.id", "must be 1 to 64 characters of A-Z, a-z, 0-9, _, . and -, not . or ..");
  }
  CheckState(c, o.state, o.store);
  CheckStore(c, o.store);
  c.Positive(o.store.full_retry_interval, "store.full_retry_interval");
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::find(std::begin(kLevels), std::end(kLevels), o.log.level) == std::end(kLevels)) {
    c.Add("log.level", "must be one of trace, debug, info, warn, error");
  }
  if (o.log.max_size < (1LL << 20) || o.log.max_size > (1LL << 30)) {
    c.Add("log.max_size", "must be 1M..1G");
  }
  c.IntRange(o.log.max_files, 1, 100, "log.max_files");
  if (o.log.progress_interval.count() != 0 && o.log.progress_interval < Millis(1000)) {
    c.Add("log.progress_interval", "must be 0 (off) or at least 1s");
  }
  CheckStatus(c, o.status);
  if (o.deadline.at_risk_within < Millis(0) ||
      o.deadline.at_risk_within > Millis(7LL * 24 * 3600 * 1000)) {
    c.Add("deadline.at_risk_within", "must be 0..7d");
  }
  if (o.refresh.interval < Millis(1) || o.refresh.interval > Millis(366LL * 24 * 3600 * 1000)) {
    c.Add("refresh.interval", "must be 1ms..366d");
  }
  if (o.source.kind != "directory") c.Add("source.kind", "must be directory");
  c.Required(o.source.path, "source.path");
  c.Positive(o.source.poll_interval, "source.poll_interval");
  c.IntRange(o.limits.max_jobs_in_flight, 1, 10000, "limits.max_jobs_in_flight");
  c.IntRange(o.limits.max_requests, 1, 10000, "limits.max_requests");
  c.IntRange(o.limits.max_downloads, 1, 10000, "limits.max_downloads");
  if (o.limits.max_downloads > o.limits.max_requests && o.limits.max_requests >= 1) {
    // Downloads are requests too: more would leave the other requests no slot.
    c.Add("limits.max_downloads", "must not exceed limits.max_requests");
  }
  if (o.payers.empty()) c.Add("payers", "at least one payer is required");
  for (std::size_t i = 0; i < o.payers.size(); ++i) {
    const std::string p = "payers[" + std::to_string(i) + "]";
    CheckPayer(c, o.payers[i], p);
    for (std::size_t j = 0; j < i; ++j) CheckSharedTlsHosts(c, o.payers[i], o.payers[j], p, j);
    for (std::size_t j = 0; j < i; ++j) {
      if (!o.payers[i].id.empty() && o.payers[i].id == o.payers[j].id) {
        c.Add(p + ".id", "duplicate of payers[" + std::to_string(j) + "].id");
        break;
      }
    }
  }
  return problems;
}

std::vector<ConfigProblem> WarnOptions(const Options& o) {
  static constexpr std::string_view kNoActors =
      "missing; the $member-match Consent will have no actors, which payers validating against "
      "HRex 1.1 / PDex 2.1 refuse (422)";
  std::vector<ConfigProblem> warnings;
  if (o.self.identifier.empty()) warnings.push_back({"self.identifier", std::string(kNoActors), 0});
  for (std::size_t i = 0; i < o.payers.size(); ++i) {
    if (o.payers[i].identifier.empty()) {
      warnings.push_back(
          {"payers[" + std::to_string(i) + "].identifier", std::string(kNoActors), 0});
    }
  }
  return warnings;
}

}  // namespace p2p
