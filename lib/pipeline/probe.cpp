#include "pipeline/probe.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "auth/jwk.h"
#include "auth/smart_discovery.h"
#include "auth/token_cache.h"
#include "core/civil_date.h"
#include "fhir/capability_statement.h"
#include "pipeline/payer_client.h"

namespace p2p::pipeline {
namespace {

namespace asio = boost::asio;

constexpr size_t kMetadataBodyLimit = 8 * 1024 * 1024;  // a big server's statement is ~1 MB
constexpr size_t kSmartBodyLimit = 64 * 1024;

ProbeCheck Check(std::string name, ProbeResult result, std::string detail) {
  return ProbeCheck{std::move(name), result, std::move(detail), 0};
}

std::string YesNo(bool yes) { return yes ? "yes" : "no"; }

// `base` with `suffix` appended to its path (no query), e.g. /v1/bison + /metadata.
Url WithPath(Url base, std::string_view suffix) {
  std::string path(base.Path());
  if (!path.empty() && path.back() == '/') path.pop_back();
  base.target = path + std::string(suffix);
  return base;
}

// "GET /v1/bison/metadata: HTTP 404" for a non-2xx answer.
std::string StatusText(std::string_view what, const http::Response& answer) {
  return std::string(what) + ": HTTP " + std::to_string(answer.status);
}

// What to try when the token endpoint names an OAuth error (RFC 6749 §5.2).
std::string_view TokenHint(std::string_view message) {
  if (message.find("invalid_client") != message.npos) {
    return "; check auth.client_id and the client secret or key the payer registered";
  }
  if (message.find("unauthorized_client") != message.npos) {
    return "; the payer has not allowed this client the client_credentials grant";
  }
  if (message.find("invalid_scope") != message.npos) return "; check auth.scope";
  if (message.find("invalid_grant") != message.npos) {
    return "; check the assertion's audience (token_url) and the clock";
  }
  return "";
}

// Replaces every occurrence of `secret` (4 bytes or more) in `text`.
void Scrub(std::string& text, const std::string& secret) {
  if (secret.size() < 4) return;
  for (size_t at = text.find(secret); at != text.npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "<redacted>");
    at += 10;
  }
}

Result<std::string> SigningAlgorithm(const AuthOptions& auth) {
  if (auth.algorithm != JwtAlgorithm::kFromKey)
    return std::string(auth::AlgorithmName(auth.algorithm));
  Result<auth::SigningKey> key =
      auth::ParseSigningKey(auth.private_key, auth.key_id, auth.algorithm);
  if (!key) return std::move(key).error().Context("private key");
  return std::string(auth::AlgorithmName(key->algorithm));
}

bool Contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string Joined(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& s : list) out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace

std::string_view ProbeResultName(ProbeResult result) {
  switch (result) {
    case ProbeResult::kOk:
      return "ok";
    case ProbeResult::kWarn:
      return "warn";
    case ProbeResult::kFail:
      return "FAIL";
    case ProbeResult::kSkip:
      return "skip";
  }
  return "FAIL";
}

ProbeCheck JudgeTls(std::string name, const Result<http::TlsPeer>& peer, int64_t now_unix) {
  if (!peer) {
    std::string detail = peer.error().message;
    if (detail.find("certificate verify failed") != detail.npos) {
      detail +=
          " (is the server's certificate signed by a CA in the system store or "
          "payers[].tls.ca_file?)";
    }
    return Check(std::move(name), ProbeResult::kFail, std::move(detail));
  }
  const int64_t days_left = (peer->not_after - now_unix) / 86400;
  std::string detail = peer->protocol + "; subject " + peer->subject + "; issuer " + peer->issuer +
                       "; expires " + FormatCivilDate(DaysFromUnix(peer->not_after));
  ProbeResult result = ProbeResult::kOk;
  if (peer->not_after <= now_unix) {
    detail += " (expired)";
    result = ProbeResult::kFail;
  } else {
    detail += " (in " + std::to_string(days_left) + (days_left == 1 ? " day" : " days") + ")";
    if (days_left < kCertificateWarnDays) {
      detail += ": renew it, under " + std::to_string(kCertificateWarnDays) + " days left";
      result = ProbeResult::kWarn;
    }
  }
  if (!peer->client_subject.empty()) {
    detail += "; client certificate " + peer->client_subject + " accepted";
  }
  return Check(std::move(name), result, std::move(detail));
}

ProbeCheck JudgeSmartConfiguration(const PayerOptions& payer, const Result<http::Response>& answer,
                                   const Result<std::string>& algorithm) {
  const char* kName = "smart-configuration";
  if (!answer) return Check(kName, ProbeResult::kFail, answer.error().message);
  if (answer->status != 200) {
    return Check(kName, ProbeResult::kFail,
                 StatusText("GET " + std::string(auth::kSmartConfigurationPath), *answer));
  }
  Result<auth::SmartConfiguration> config = auth::ReadSmartConfiguration(answer->body);
  if (!config) return Check(kName, ProbeResult::kFail, config.error().message);
  Result<Url> base = Url::Parse(payer.base_url);
  if (!base) return Check(kName, ProbeResult::kFail, "base_url: " + base.error().message);
  Result<Url> endpoint =
      auth::CheckTokenEndpoint(*config, *base, payer.trusted_hosts, payer.auth.method);
  if (!endpoint) return Check(kName, ProbeResult::kFail, endpoint.error().message);

  const std::string method(auth::AuthMethodName(payer.auth.method));
  std::string detail = "token_endpoint " + endpoint->ToString();
  ProbeResult result = ProbeResult::kOk;
  if (config->auth_methods.empty()) {
    detail += "; token_endpoint_auth_methods_supported missing (" + method + " not confirmed)";
    result = ProbeResult::kWarn;
  } else {
    detail += "; " + method + " supported";
  }
  if (payer.auth.method == AuthMethod::kPrivateKeyJwt) {
    if (!algorithm) return Check(kName, ProbeResult::kFail, algorithm.error().message);
    if (config->signing_algs.empty()) {
      detail += "; token_endpoint_auth_signing_alg_values_supported missing (" + *algorithm +
                " not confirmed)";
      result = ProbeResult::kWarn;
    } else if (!Contains(config->signing_algs, *algorithm)) {
      return Check(kName, ProbeResult::kFail,
                   "the key signs " + *algorithm +
                       ", not in token_endpoint_auth_signing_alg_values_supported (" +
                       Joined(config->signing_algs) + ")");
    } else {
      detail += "; " + *algorithm + " supported";
    }
  }
  if (!payer.auth.token_url.empty() && !payer.auth.discover) {
    Result<Url> configured = Url::Parse(payer.auth.token_url);
    if (!configured || configured->ToString() != endpoint->ToString()) {
      detail += "; differs from auth.token_url " + payer.auth.token_url +
                " (the assertion's audience must be the endpoint the payer checks)";
      result = ProbeResult::kWarn;
    }
  }
  return Check(kName, result, std::move(detail));
}

ProbeCheck JudgeToken(const PayerOptions& payer, const Result<std::string>& token) {
  const std::string method(auth::AuthMethodName(payer.auth.method));
  const std::string where = payer.auth.token_url.empty() || payer.auth.discover
                                ? "the discovered token URL"
                                : payer.auth.token_url;
  if (!token) {
    const std::string& message = token.error().message;
    return Check("token", ProbeResult::kFail,
                 message + " (" + method + " to " + where + ")" + std::string(TokenHint(message)));
  }
  return Check("token", ProbeResult::kOk, "access token granted (" + method + " to " + where + ")");
}

ProbeCheck JudgeMetadata(const PayerOptions& payer, const Result<http::Response>& answer) {
  if (!answer) return Check("metadata", ProbeResult::kFail, answer.error().message);
  if (answer->status != 200) {
    std::string detail = StatusText("GET {base_url}/metadata", *answer);
    if (answer->status == 404) detail += " (is base_url the payer's FHIR base?)";
    return Check("metadata", ProbeResult::kFail, std::move(detail));
  }
  Result<fhir::CapabilitySummary> cs = fhir::ReadCapabilityStatement(answer->body);
  if (!cs) return Check("metadata", ProbeResult::kFail, cs.error().message);

  ProbeResult result = ProbeResult::kOk;
  std::string detail = "FHIR " + (cs->fhir_version.empty() ? "version missing" : cs->fhir_version);
  if (cs->fhir_version.rfind("4.0.", 0) != 0) {
    detail += " (the daemon speaks FHIR R4, 4.0.x)";
    result = ProbeResult::kWarn;
  }
  if (!cs->software.empty()) detail += " (" + cs->software + ")";
  // An operation the configuration uses but the server does not advertise is worth a look.
  const bool bulk = payer.match.mode == MatchMode::kBulk;
  const bool davinci = payer.export_job.operation == ExportOperation::kDavinciDataExport;
  const auto op = [&](std::string_view name, bool advertised, bool used) {
    detail += "; " + std::string(name) + " " + YesNo(advertised);
    if (!advertised && used) {
      detail += " (used by this payer's configuration)";
      result = ProbeResult::kWarn;
    }
  };
  op("$member-match", cs->member_match, !bulk);
  op("$bulk-member-match", cs->bulk_member_match, bulk);
  op("$export", cs->export_operation, !davinci);
  if (davinci || cs->davinci_data_export) {
    op("$davinci-data-export", cs->davinci_data_export, davinci);
  }
  return Check("metadata", result, std::move(detail));
}

asio::awaitable<int> ProbePayer(http::HttpClient& client, const PayerOptions& payer,
                                std::function<void(const ProbeCheck&)> report) {
  int failed = 0;
  std::string token;
  auto started = std::chrono::steady_clock::now();
  const auto emit = [&](ProbeCheck check) {
    const auto now = std::chrono::steady_clock::now();
    check.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - started).count();
    Scrub(check.detail, payer.auth.client_secret);
    Scrub(check.detail, token);
    if (check.result == ProbeResult::kFail) ++failed;
    report(check);
    started = std::chrono::steady_clock::now();
  };
  Result<Url> base = Url::Parse(payer.base_url);
  if (!base) {
    emit(Check("base_url", ProbeResult::kFail, base.error().message));
    co_return failed;
  }
  UsePayerTls(client, payer);
  const Url metadata_url = WithPath(*base, "/metadata");

  // TLS: base_url's host, then the token URL's when it is another one.
  std::vector<Url> tls_targets{metadata_url};
  if (!payer.auth.token_url.empty() && !payer.auth.discover) {
    Result<Url> t = Url::Parse(payer.auth.token_url);
    if (t && (t->scheme != base->scheme || t->Authority() != base->Authority())) {
      tls_targets.push_back(*t);
    }
  }
  const http::TlsOptions tls{payer.tls.ca_file, payer.tls.client_cert, payer.tls.client_key};
  for (const Url& target : tls_targets) {
    std::string name = "tls " + target.Authority();
    if (!target.tls()) {
      emit(Check(std::move(name), ProbeResult::kSkip, "plain http: TLS skipped"));
      continue;
    }
    Result<http::TlsPeer> peer = co_await http::ProbeTls(target, tls, payer.request_timeout);
    const int64_t now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    emit(JudgeTls(std::move(name), peer, now_unix));
  }

  if (payer.auth.method == AuthMethod::kPrivateKeyJwt || payer.auth.discover) {
    http::Request req;
    req.url = WithPath(*base, auth::kSmartConfigurationPath);
    req.timeout = payer.request_timeout;
    req.headers.push_back({"Accept", "application/json"});
    Result<http::Response> answer = co_await client.Send(req, kSmartBodyLimit);
    const Result<std::string> algorithm = payer.auth.method == AuthMethod::kPrivateKeyJwt
                                              ? SigningAlgorithm(payer.auth)
                                              : Result<std::string>(std::string());
    emit(JudgeSmartConfiguration(payer, answer, algorithm));
  }

  auth::TokenCache tokens(client, payer);
  Result<std::string> granted = co_await tokens.Get();
  if (granted) token = *granted;
  emit(JudgeToken(payer, granted));

  http::Request req;
  req.url = metadata_url;
  req.timeout = payer.request_timeout;
  req.headers.push_back({"Accept", "application/fhir+json"});
  const bool trusted = payer.trusted_hosts.empty() || Contains(payer.trusted_hosts, base->host);
  if (!token.empty() && trusted) req.headers.push_back({"Authorization", "Bearer " + token});
  emit(JudgeMetadata(payer, co_await client.Send(req, kMetadataBodyLimit)));
  client.CloseIdle();
  co_return failed;
}

}  // namespace p2p::pipeline
