#include "sandbox_app.h"

#include <algorithm>
#include <optional>

#include "capability_statement.h"
#include "member_match.h"
#include "text_util.h"

namespace p2p::sandbox {
namespace {

constexpr size_t kTokenCapacity = 100'000;
constexpr size_t kJobCapacity = 10'000;

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

// The token of an `Authorization: Bearer <token>` header.
std::optional<std::string_view> BearerToken(std::string_view auth) {
  const bool bearer = auth.size() > 7 && (auth[0] == 'B' || auth[0] == 'b') &&
                      (auth.substr(1, 6) == "earer " || auth.substr(1, 6) == "EARER ");
  if (!bearer) return std::nullopt;
  return auth.substr(7);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsJsonType(std::string_view content_type) {
  return content_type.find("json") != std::string_view::npos &&
         content_type.find("ndjson") == std::string_view::npos;
}

}  // namespace

void Outcome(AppReply& reply, int status, std::string_view code, std::string_view diagnostics) {
  reply.status = status;
  reply.content_type = "application/fhir+json";
  reply.body = OperationOutcome("error", code, diagnostics);
}

SandboxApp::SandboxApp(const ServerOptions& options, std::string public_base)
    : options_(options),
      public_base_(std::move(public_base)),
      synth_(options.synth),
      faults_(options.synth.seed, options.faults),
      tokens_(kTokenCapacity),
      jobs_(options.synth.seed, kJobCapacity),
      lifecycle_(synth_, options.lifecycle),
      groups_(kJobCapacity),
      bulk_jobs_(kJobCapacity) {
  std::string ignored;  // ParseCommandLine has already checked every set
  for (const auto& [id, jwks] : options_.client_jwks) assertions_.AddClient(id, jwks, &ignored);
  for (const auto& [id, keys] : options_.groups) {  // --group: keys checked here (needs Synth)
    std::vector<uint64_t> members;
    for (const std::string& key : keys) {
      if (auto m = MemberIndexOfKey(synth_, key)) members.push_back(*m);
    }
    groups_.AddNamed(id, std::move(members));
  }
}

bool SandboxApp::KnownTenant(std::string_view tenant) const {
  return std::find(options_.tenants.begin(), options_.tenants.end(), tenant) !=
         options_.tenants.end();
}

bool SandboxApp::Authorized(const AppRequest& request, AppReply& reply) const {
  const std::optional<std::string_view> token = BearerToken(request.authorization);
  if (token && tokens_.Valid(*token, TokenTable::Clock::now())) return true;
  Outcome(reply, 401, "login",
          token ? "Bearer token is invalid or expired" : "Bearer token required");
  reply.headers.emplace_back("WWW-Authenticate",
                             token ? R"(Bearer error="invalid_token")" : "Bearer");
  return false;
}

std::string SandboxApp::ClientKey(const AppRequest& request, Endpoint endpoint) const {
  std::string id;
  if (auto token = BearerToken(request.authorization)) {
    id = tokens_.ClientOf(*token);
  } else if (endpoint == Endpoint::kToken && !request.authorization.empty()) {
    if (auto basic = ParseBasicAuth(request.authorization)) id = basic->id;
  } else if (endpoint == Endpoint::kToken) {
    auto form = ParseForm(request.body);
    if (form && form->count("client_id")) id = form->at("client_id");
  }
  bool known = false;
  for (const auto& client : options_.clients) known = known || client.first == id;
  for (const auto& client : options_.client_jwks) known = known || client.first == id;
  return known ? "client:" + id : "peer:" + std::string(request.peer);
}

void SandboxApp::Refuse(const BlockRefusal& block, AppReply& reply) {
  faults_.Record(reply.endpoint, FaultKind::kBlock);
  Outcome(reply, 429, "throttled",
          "Too many requests: this client is blocked until the time given by Retry-After");
  reply.headers.emplace_back("Retry-After", block.retry_after);
}

AppReply SandboxApp::Handle(const AppRequest& request) {
  AppReply reply;
  std::string_view target = request.target;
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  reply.log_path = std::string(raw_path);
  auto decoded = PercentDecode(raw_path, false);
  if (!decoded || raw_path.empty() || raw_path[0] != '/') {
    ++requests_[static_cast<size_t>(Endpoint::kOther)];
    Outcome(reply, 400, "invalid", "Malformed request path");
    return reply;
  }
  std::vector<std::string_view> s = Split(std::string_view(*decoded).substr(1), '/');
  std::string_view tenant, id;
  bool deleted_file = false;
  const char* method = "GET";
  const BulkRoute bulk = RouteBulkMatch(s);
  const KickoffRoute kick_route = RouteKickoff(s);
  if (bulk != BulkRoute::kNone) {
    reply.endpoint = bulk == BulkRoute::kKickoff ? Endpoint::kMatch : Endpoint::kJob;
    method = bulk == BulkRoute::kKickoff ? "POST" : "GET";
    if (bulk == BulkRoute::kStatus) id = s.back();
  } else if (s.size() == 6 && s[0] == "auth" && s[1] == "realms" && s[2] == "dev-portal" &&
      s[3] == "protocol" && s[4] == "openid-connect" && s[5] == "token") {
    reply.endpoint = Endpoint::kToken;
    method = "POST";
  } else if (s.size() == 4 && s[0] == "v1" && (s[2] == "member-match-sandbox" || s[2] == "Patient") &&
             s[3] == "$member-match") {
    reply.endpoint = Endpoint::kMatch;
    method = "POST";
  } else if (s.size() == 7 && s[0] == "v1" && s[2] == "bulk-data" && s[3] == "r4" &&
             s[4] == "Group" && s[6] == "$export") {
    reply.endpoint = Endpoint::kExport;
    id = s[5];
  } else if (kick_route != KickoffRoute::kGroupExport) {  // POST kick-offs (export_variants.h)
    reply.endpoint = Endpoint::kExport;
    method = "POST";
    if (kick_route == KickoffRoute::kDavinci) id = s[5];
  } else if (s.size() == 7 && s[0] == "v1" && s[2] == "bulk-data" && s[3] == "r4" &&
             s[4] == "$export" && (s[5] == "job" || s[5] == "file" || s[5] == "deleted")) {
    reply.endpoint = s[5] == "job" ? Endpoint::kJob : Endpoint::kFile;
    id = s[6];
    deleted_file = s[5] == "deleted";
  } else if (s.size() == 2 && s[0] == "admin" &&
             (s[1] == "stats" || s[1] == "faults" || s[1] == "in-flight")) {
    reply.endpoint = Endpoint::kAdmin;
  }
  if (s.size() >= 2 && s[0] == "v1") tenant = s[1];
  ++requests_[static_cast<size_t>(reply.endpoint)];
  // Counted from here, faults included: a delayed, reset or cut answer is in flight too.
  if (reply.endpoint != Endpoint::kToken && reply.endpoint != Endpoint::kAdmin &&
      reply.endpoint != Endpoint::kOther && KnownTenant(tenant)) {
    reply.in_flight = in_flight_.Begin(tenant);
  }

  const bool smart_config = s.size() >= 2 && s[s.size() - 2] == ".well-known" &&
                            s.back() == "smart-configuration" &&
                            (s.size() == 2 || (s[0] == "v1" && KnownTenant(tenant)));
  if (reply.endpoint == Endpoint::kOther && smart_config && request.method == "GET") {
    SmartConfiguration(reply);
    return reply;
  }
  if (reply.endpoint == Endpoint::kOther && request.method == "GET" && IsMetadataPath(s) &&
      KnownTenant(tenant)) {
    reply.body = CapabilityStatementJson(public_base_ + "/v1/" + std::string(tenant), TokenUrl());
    return reply;
  }
  if (reply.endpoint == Endpoint::kOther) {
    Outcome(reply, 404, "not-found", "No such endpoint");
    return reply;
  }
  if (reply.endpoint == Endpoint::kAdmin) {
    Admin(request, *decoded, reply);
    return reply;
  }
  const bool cancel = reply.endpoint == Endpoint::kJob && request.method == "DELETE";
  if (request.method != method && !cancel) {
    Outcome(reply, 405, "not-supported", "Method not allowed");
    reply.headers.emplace_back("Allow", reply.endpoint == Endpoint::kJob ? "GET, DELETE" : method);
    return reply;
  }

  const int64_t now_ms = NowMs();
  FaultDecision fault = faults_.Decide(reply.endpoint, ClientKey(request, reply.endpoint), now_ms);
  reply.delay = fault.delay;
  if (fault.delay.count() > 0) faults_.Record(reply.endpoint, FaultKind::kDelay);
  if (fault.block) {
    Refuse(*fault.block, reply);
    return reply;
  }
  bool fail_job = false, cut = false, bad_json = false;
  if (fault.response) {
    const FaultRule& rule = *fault.response;
    faults_.Record(reply.endpoint, rule.kind);
    switch (rule.kind) {
      case FaultKind::k500:
      case FaultKind::k503:
      case FaultKind::k429:
      case FaultKind::k404:
      case FaultKind::k410: {
        int status = std::stoi(std::string(FaultKindName(rule.kind)));
        Outcome(reply, status, status == 404 ? "not-found" : status == 410 ? "deleted"
                               : status == 429 ? "throttled" : "transient",
                "Injected fault " + std::string(FaultKindName(rule.kind)));
        if (rule.has_retry_after) {
          reply.headers.emplace_back(
              "Retry-After", rule.retry_after_form == RetryAfterForm::kSeconds
                                 ? std::to_string(rule.retry_after_seconds)
                                 : FormatRetryAfter(rule.retry_after_form, now_ms,
                                                    now_ms + rule.retry_after_seconds * 1000LL));
        }
        return reply;
      }
      case FaultKind::kReset:
        reply.reset = true;
        return reply;
      case FaultKind::kCut: cut = true; break;
      case FaultKind::kBadJson: bad_json = true; break;
      case FaultKind::kFail: fail_job = true; break;
      default: break;
    }
  }
  if (fault.token_lifetime) faults_.Record(reply.endpoint, FaultKind::kExpire);

  if (reply.endpoint == Endpoint::kToken) {
    Token(request, reply, fault);
  } else if (!KnownTenant(tenant)) {
    Outcome(reply, 404, "not-found", "Unknown tenant");
  } else if (reply.endpoint == Endpoint::kFile && !deleted_file &&
             !options_.variants.requires_token) {
    File(request, tenant, id, reply);  // requiresAccessToken false (export_variants.h)
  } else if (Authorized(request, reply)) {
    switch (reply.endpoint) {
      case Endpoint::kMatch:
        if (bulk == BulkRoute::kKickoff) {
          BulkMatch(request, tenant, reply);
        } else {
          Match(request, tenant, reply);
        }
        break;
      case Endpoint::kExport:
        Export(request, tenant, id, query, reply, fail_job, kick_route);
        break;
      case Endpoint::kJob:
        if (bulk == BulkRoute::kStatus) {
          BulkMatchStatus(tenant, id, reply);
        } else if (cancel) {
          CancelJob(tenant, id, reply);
        } else {
          Job(tenant, id, query, reply, fail_job);
        }
        break;
      case Endpoint::kFile:
        if (deleted_file) {
          DeletedFile(tenant, id, reply);
        } else {
          File(request, tenant, id, reply);
        }
        break;
      default: break;
    }
  }
  reply.cut = cut;
  if (bad_json) {
    if (reply.file) {
      reply.file->bad_first_line = true;
    } else if (IsJsonType(reply.content_type) && reply.body.size() > 1) {
      reply.body.resize(reply.body.size() / 2);
    } else if (reply.body.empty()) {
      reply.body = "{\"resourceType\":";
    }
  }
  return reply;
}

void SandboxApp::Match(const AppRequest& request, std::string_view tenant, AppReply& reply) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::string today = FormatDate(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  MatchAnswer answer = MemberMatch(request.body, synth_, tenant, today, options_.hrex);
  reply.status = answer.status;
  reply.body = std::move(answer.body);
  if (answer.member && options_.variants.match_identifier_only) {  // export_variants.h
    reply.body = IdentifierOnlyMatchAnswer(synth_.Member(*answer.member), tenant);
  }
}

void SandboxApp::Admin(const AppRequest& request, std::string_view path, AppReply& reply) {
  reply.content_type = "text/plain";
  if (!request.from_loopback) {
    reply.status = 403;
    reply.body = "admin is for loopback peers only\n";
    return;
  }
  if (path == "/admin/stats" && request.method == "GET") {
    reply.content_type = "application/json";
    reply.body = StatsJson();
  } else if (path == "/admin/faults" && request.method == "GET") {
    reply.body = FormatFaultSpec(faults_.Spec()) + "\n";
  } else if (path == "/admin/faults" && (request.method == "PUT" || request.method == "POST")) {
    std::string error;
    auto spec = ParseFaultSpec(request.body, &error);
    if (!spec) {
      reply.status = 400;
      reply.body = error + "\n";
      return;
    }
    faults_.Replace(*spec);
    reply.body = FormatFaultSpec(*spec) + "\n";
  } else if (path == "/admin/in-flight" && (request.method == "GET" || request.method == "DELETE")) {
    if (request.method == "DELETE") in_flight_.ResetMax();  // a new window for the maxima
    reply.content_type = "application/json";
    reply.body = in_flight_.Json();
  } else {
    reply.status = 405;
    reply.body = "method not allowed\n";
  }
}

std::string SandboxApp::StatsJson() const {
  std::string out = R"({"requests":{)";
  for (size_t e = 0; e < kEndpointCount; ++e) {
    if (e == static_cast<size_t>(Endpoint::kAny)) continue;
    if (out.back() != '{') out += ',';
    AppendJsonString(out, EndpointName(static_cast<Endpoint>(e)));
    out += ':' + std::to_string(requests_[e].load());
  }
  auto injected = faults_.Injected();
  out += R"(},"faults":{)";
  bool first = true;
  for (size_t k = 0; k < kFaultKindCount; ++k) {
    uint64_t total = 0;
    for (size_t e = 0; e < kEndpointCount; ++e) total += injected[e][k];
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, FaultKindName(static_cast<FaultKind>(k)));
    out += ':' + std::to_string(total);
  }
  out += R"(},"faults_by_endpoint":{)";
  first = true;
  for (size_t e = 0; e < kEndpointCount; ++e) {
    std::string inner;
    for (size_t k = 0; k < kFaultKindCount; ++k) {
      if (injected[e][k] == 0) continue;
      if (!inner.empty()) inner += ',';
      AppendJsonString(inner, FaultKindName(static_cast<FaultKind>(k)));
      inner += ':' + std::to_string(injected[e][k]);
    }
    if (inner.empty()) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, EndpointName(static_cast<Endpoint>(e)));
    out += ":{" + inner + "}";
  }
  // Block faults: blocks started, requests refused during a block (all, and by endpoint).
  const size_t block = static_cast<size_t>(FaultKind::kBlock);
  uint64_t refused = 0;
  std::string by_endpoint;
  for (size_t e = 0; e < static_cast<size_t>(Endpoint::kAny); ++e) {
    refused += injected[e][block];
    if (!by_endpoint.empty()) by_endpoint += ',';
    AppendJsonString(by_endpoint, EndpointName(static_cast<Endpoint>(e)));
    by_endpoint += ':' + std::to_string(injected[e][block]);
  }
  out += R"(},"blocks":{"started":)" + std::to_string(faults_.BlocksStarted()) +
         R"(,"refused":)" + std::to_string(refused) + R"(,"refused_by_endpoint":{)" +
         by_endpoint + "}";
  out += R"(},"tokens":)" + std::to_string(tokens_.size());
  // Export variants (export_variants.h): kick-offs by operation, file requests by token.
  out += R"(,"kickoffs":{"group-export":)" + std::to_string(kickoffs_[0].load()) +
         R"(,"davinci-data-export":)" + std::to_string(kickoffs_[1].load()) +
         R"(,"patient-export":)" + std::to_string(kickoffs_[2].load()) + "}";
  out += R"(,"file_requests_with_token":)" + std::to_string(files_with_token_.load());
  out += R"(,"file_requests_without_token":)" + std::to_string(files_without_token_.load());
  out += R"(,"in_flight_peak":{"api":)" + std::to_string(in_flight_peak_[0].load()) +
         R"(,"file":)" + std::to_string(in_flight_peak_[1].load()) +
         R"(,"all":)" + std::to_string(in_flight_peak_[2].load()) + "}";
  out += R"(,"fhir_in_flight":)" + in_flight_.Json();
  out += R"(,"jobs_cancelled":)" + std::to_string(jobs_.removed()) + "}";
  return out;
}

namespace {

// The answering_ classes an endpoint counts in: {class, 2 (both)}, or none (admin, other).
std::optional<size_t> InFlightClass(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kToken:
    case Endpoint::kMatch:
    case Endpoint::kExport:
    case Endpoint::kJob: return 0;
    case Endpoint::kFile: return 1;
    default: return std::nullopt;
  }
}

void RaisePeak(std::atomic<int64_t>& peak, int64_t now) {
  int64_t seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
}

}  // namespace

void SandboxApp::Began(Endpoint endpoint) {
  const auto c = InFlightClass(endpoint);
  if (!c) return;
  for (size_t i : {*c, size_t{2}}) RaisePeak(in_flight_peak_[i], ++answering_[i]);
}

void SandboxApp::Ended(Endpoint endpoint) {
  const auto c = InFlightClass(endpoint);
  if (!c) return;
  for (size_t i : {*c, size_t{2}}) --answering_[i];
}

}  // namespace p2p::sandbox
