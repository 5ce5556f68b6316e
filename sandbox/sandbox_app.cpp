#include "sandbox_app.h"

#include <algorithm>
#include <cctype>

#include "capability_statement.h"
#include "member_match.h"
#include "ndjson_stream.h"
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

void OAuthError(AppReply& reply, int status, std::string_view error, std::string_view description) {
  reply.status = status;
  reply.content_type = "application/json";
  reply.body = R"({"error":)";
  AppendJsonString(reply.body, error);
  reply.body += R"(,"error_description":)";
  AppendJsonString(reply.body, description);
  reply.body += '}';
  reply.headers.emplace_back("Cache-Control", "no-store");
}

void Outcome(AppReply& reply, int status, std::string_view code, std::string_view diagnostics) {
  reply.status = status;
  reply.content_type = "application/fhir+json";
  reply.body = OperationOutcome("error", code, diagnostics);
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
  } else if (s.size() == 2 && s[0] == "admin" && (s[1] == "stats" || s[1] == "faults")) {
    reply.endpoint = Endpoint::kAdmin;
  }
  if (s.size() >= 2 && s[0] == "v1") tenant = s[1];
  ++requests_[static_cast<size_t>(reply.endpoint)];

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

namespace {

// The scopes this server grants (RFC 6749 §3.3: space-separated): 1up's "member-match|read" and
// its halves, and SMART scopes (system/, user/, patient/ and the launch/identity ones).
bool KnownScopes(std::string_view scopes) {
  size_t at = 0;
  while (at < scopes.size()) {
    size_t end = scopes.find(' ', at);
    if (end == std::string_view::npos) end = scopes.size();
    const std::string_view s = scopes.substr(at, end - at);
    at = end + 1;
    if (s.empty()) continue;
    const bool known = s == "member-match|read" || s == "member-match" || s == "read" ||
                       s == "openid" || s == "fhirUser" || s == "offline_access" ||
                       s.starts_with("system/") || s.starts_with("user/") ||
                       s.starts_with("patient/") || s.starts_with("launch");
    if (!known) return false;
  }
  return true;
}

}  // namespace

void SandboxApp::Token(const AppRequest& request, AppReply& reply, const FaultDecision& faults) {
  std::string_view ct = request.content_type;
  if (ct.substr(0, ct.find(';')) != "application/x-www-form-urlencoded") {
    return OAuthError(reply, 400, "invalid_request",
                      "Content-Type must be application/x-www-form-urlencoded");
  }
  auto form = ParseForm(request.body);
  if (!form) return OAuthError(reply, 400, "invalid_request", "Malformed form body");
  std::optional<BasicCredentials> basic;
  if (!request.authorization.empty()) {
    basic = ParseBasicAuth(request.authorization);
    if (!basic) {
      OAuthError(reply, 401, "invalid_client", "Malformed Authorization header");
      reply.headers.emplace_back("WWW-Authenticate", "Basic realm=\"dev-portal\"");
      return;
    }
  }
  bool form_client = form->count("client_secret") > 0;
  const bool jwt = form->count("client_assertion") > 0 || form->count("client_assertion_type") > 0;
  if (int{basic.has_value()} + int{form_client} + int{jwt} > 1) {
    return OAuthError(reply, 400, "invalid_request", "Use one client authentication method");
  }
  std::string id = basic ? basic->id : (form->count("client_id") ? form->at("client_id") : "");
  std::string secret = basic ? basic->secret : (form_client ? form->at("client_secret") : "");
  bool known = false;
  if (jwt) {
    std::optional<std::string> asserted = AssertedClient(*form, reply);
    if (!asserted) return;
    known = true;
    id = *asserted;
  }
  for (const auto& [cid, csecret] : options_.clients) known = known || (cid == id && csecret == secret);
  if (!known) {
    OAuthError(reply, 401, "invalid_client", "Client authentication failed");
    if (basic) reply.headers.emplace_back("WWW-Authenticate", "Basic realm=\"dev-portal\"");
    return;
  }
  auto grant = form->find("grant_type");
  if (grant == form->end()) return OAuthError(reply, 400, "invalid_request", "grant_type is required");
  if (grant->second != "client_credentials") {
    return OAuthError(reply, 400, "unsupported_grant_type", "Only client_credentials is supported");
  }
  auto scope = form->find("scope");
  std::string granted = scope != form->end() ? scope->second : "member-match|read";
  if (!KnownScopes(granted)) {
    return OAuthError(reply, 400, "invalid_scope", "Requested scope is not supported");
  }
  auto lifetime = faults.token_lifetime
                      ? *faults.token_lifetime
                      : std::chrono::milliseconds(options_.token_ttl_seconds * 1000);
  std::string token = tokens_.Issue(TokenTable::Clock::now() + lifetime, id);
  reply.status = 200;
  reply.content_type = "application/json";
  reply.headers.emplace_back("Cache-Control", "no-store");
  reply.body = R"({"access_token":)";
  AppendJsonString(reply.body, token);
  reply.body += R"(,"token_type":"Bearer","expires_in":)" + std::to_string(options_.token_ttl_seconds);
  reply.body += R"(,"scope":)";
  AppendJsonString(reply.body, granted);
  reply.body += '}';
}

std::string SandboxApp::TokenUrl() const {
  return public_base_ + "/auth/realms/dev-portal/protocol/openid-connect/token";
}

// SMART Backend Services (App Launch STU2): every failure of the assertion is invalid_client.
std::optional<std::string> SandboxApp::AssertedClient(
    const std::map<std::string, std::string>& form, AppReply& reply) {
  auto type = form.find("client_assertion_type");
  auto assertion = form.find("client_assertion");
  if (type == form.end() || type->second != kJwtBearerAssertionType) {
    OAuthError(reply, 400, "invalid_request",
               "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    return std::nullopt;
  }
  if (assertion == form.end() || assertion->second.empty()) {
    OAuthError(reply, 400, "invalid_request", "client_assertion is required");
    return std::nullopt;
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  AssertionVerdict verdict = assertions_.Verify(assertion->second, TokenUrl(), now);
  auto id = form.find("client_id");
  if (verdict.ok && id != form.end() && id->second != verdict.client_id) {
    verdict = AssertionVerdict{false, "", "client_id does not match the assertion's iss"};
  }
  if (!verdict.ok) {
    OAuthError(reply, 401, "invalid_client", verdict.description);
    return std::nullopt;
  }
  return verdict.client_id;
}

void SandboxApp::SmartConfiguration(AppReply& reply) const {
  reply.status = 200;
  reply.content_type = "application/json";
  reply.body = R"({"token_endpoint":)";
  AppendJsonString(reply.body, TokenUrl());
  reply.body +=
      R"(,"grant_types_supported":["client_credentials"])"
      R"(,"token_endpoint_auth_methods_supported":["private_key_jwt","client_secret_post","client_secret_basic"])"
      R"(,"token_endpoint_auth_signing_alg_values_supported":["RS384","ES384"])"
      R"(,"scopes_supported":["system/*.read","member-match|read"])"
      R"(,"capabilities":["client-confidential-asymmetric","client-confidential-symmetric"]})";
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

void SandboxApp::Export(const AppRequest& request, std::string_view tenant, std::string_view group,
                        std::string_view query, AppReply& reply, bool fail, KickoffRoute route) {
  // The GET query or a POST's Parameters: _type, _since, _typeFilter, ... (export_variants.h).
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const KickoffParse kick = route == KickoffRoute::kGroupExport
                                ? ParseExportQuery(query)
                                : ParseExportParameters(request.body, route, now_s);
  if (kick.error) {
    return Outcome(reply, kick.error->status, kick.error->code, kick.error->diagnostics);
  }
  std::string patient_group;  // Patient/$export: the patient's own Group
  if (route == KickoffRoute::kPatient) {
    auto patient = FindMemberByPatientId(synth_, kick.params.patient);
    if (!patient) return Outcome(reply, 404, "not-found", "Unknown Patient");
    patient_group = synth_.GroupId(*patient);
    group = patient_group;
  }
  auto member = synth_.FindByGroupId(group);
  std::vector<uint64_t> members;  // a multi-member Group (bulk_match.h)
  if (!member) {
    auto known = groups_.Find(group);
    if (!known || known->empty()) return Outcome(reply, 404, "not-found", "Unknown Group");
    members = std::move(*known);
    member = members.front();
  }
  auto types = Synth::Types();
  const uint32_t mask = kick.params.types;
  const std::optional<int64_t> since = kick.params.since;
  ExportJob job;
  job.tenant = std::string(tenant);
  job.member = *member;
  job.since = since;
  job.request_url = public_base_ + std::string(request.target);
  job.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  job.started = std::chrono::steady_clock::now();
  job.failed = fail;
  for (size_t t = 0; t < kTypeCount && t < kick.params.type_since.size(); ++t) {
    job.type_since[t] = kick.params.type_since[t];
  }
  job.counts = CountResources(synth_, *member, mask, since, job.type_since);
  ++kickoffs_[static_cast<size_t>(route)];
  for (size_t i = 1; i < members.size(); ++i) {
    auto more = CountResources(synth_, members[i], mask, since);
    for (size_t t = 0; t < kTypeCount; ++t) job.counts[t] += more[t];
  }
  if (members.empty()) {  // --updates-per-export: records change between exports
    job.generation = lifecycle_.OnExport(*member, job.created_ms);
    const size_t obs = static_cast<size_t>(
        std::find(types.begin(), types.end(), "Observation") - types.begin());
    if (obs < kTypeCount && (mask & (1u << obs))) {
      job.counts[obs] += lifecycle_.ExtraCount(*member, "Observation", job.generation, since);
    }
  }
  job.members = std::move(members);
  job = jobs_.Create(std::move(job));
  std::string poll = public_base_ + "/v1/" + job.tenant + "/bulk-data/r4/$export/job/" + job.id;
  reply.status = 202;
  if (options_.flavor == Flavor::kBulkV2) {
    reply.headers.emplace_back("Content-Location", poll);
    reply.body = R"({"resourceType":"OperationOutcome","issue":[{"severity":"information",)"
                 R"("code":"informational","details":{"text":"Export job accepted"}}]})";
    return;
  }
  static constexpr char kAlnum[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string outcome_id;
  for (size_t i = 0, x = job.serial * 2654435761u + 12345; i < 10; ++i, x = x * 6364136223846793005ULL + 1442695040888963407ULL) {
    outcome_id.push_back(kAlnum[(x >> 33) % 36]);
  }
  reply.body = R"({"resourceType":"OperationOutcome","id":")" + outcome_id +
               R"(","issue":[{"severity":"information","code":"informational","details":{"text":)";
  AppendJsonString(reply.body, "Asynchronous export running. Track job at " + poll);
  reply.body += "}}]}";
}

void SandboxApp::Job(std::string_view tenant, std::string_view id, std::string_view query,
                     AppReply& reply, bool fail) {
  auto job = jobs_.Find(id);
  if (!job || job->tenant != tenant) return Outcome(reply, 404, "not-found", "Unknown export job");
  if (fail && !job->failed) {
    jobs_.MarkFailed(id);
    job->failed = true;
  }
  // Manifest variants: requiresAccessToken, error[] file, pages, Expires (export_variants.h).
  ManifestShape shape;
  shape.requires_token = options_.variants.requires_token;
  shape.error_lines = options_.variants.error_lines;
  shape.page_size = options_.variants.manifest_page_size;
  shape.file_expires = options_.variants.file_expires;
  if (auto params = ParseForm(query); params && params->count("page")) {
    const std::string& page = params->at("page");
    if (page.empty() || page.size() > 6 ||
        page.find_first_not_of("0123456789") != std::string::npos) {
      return Outcome(reply, 404, "not-found", "Unknown manifest page");
    }
    shape.page = static_cast<size_t>(std::stoul(page));
  }
  StatusAnswer answer = RenderStatus(*job, options_.flavor, options_.job_delay, public_base_,
                                     options_.synth.seed, std::chrono::steady_clock::now(), shape);
  if (!answer.expires.empty()) reply.headers.emplace_back("Expires", answer.expires);
  if (answer.complete && options_.lifecycle.deleted_files > 0 && job->members.empty() &&
      answer.body.size() > 1 && answer.body.back() == '}') {
    // --deleted-files: the manifest lists the job's deleted[] file (lifecycle_data.h).
    answer.body.pop_back();
    answer.body += R"(,"deleted":[{"type":"Bundle","url":)";
    AppendJsonString(answer.body,
                     public_base_ + "/v1/" + job->tenant + "/bulk-data/r4/$export/deleted/" +
                         job->id + ".ndjson");
    answer.body += "}]}";
  }
  reply.status = answer.status;
  reply.body = std::move(answer.body);
  if (options_.flavor == Flavor::kBulkV2) {
    reply.content_type = answer.status == 200 ? "application/json" : "application/fhir+json";
  }
  if (!answer.x_progress.empty()) reply.headers.emplace_back("X-Progress", answer.x_progress);
  if (answer.retry_after > 0) {
    reply.headers.emplace_back("Retry-After", std::to_string(answer.retry_after));
  }
}

// Bulk Data v2 "Delete a Bulk Data Request": 202 and the job is gone. 1up documents no cancel;
// assumed to behave the same (a client that never sends DELETE loses nothing).
void SandboxApp::CancelJob(std::string_view tenant, std::string_view id, AppReply& reply) {
  auto job = jobs_.Find(id);
  if (!job || job->tenant != tenant) return Outcome(reply, 404, "not-found", "Unknown export job");
  jobs_.Remove(id);
  reply.status = 202;
  reply.body = OperationOutcome("information", "informational", "Export job cancelled");
}

void SandboxApp::File(const AppRequest& request, std::string_view tenant, std::string_view name,
                      AppReply& reply) {
  auto ref = DecodeFileName(options_.synth.seed, name);
  std::optional<ExportJob> job;
  if (ref) job = jobs_.FindBySerial(ref->serial);
  // Whether a bearer token came with the file request (requiresAccessToken tests).
  ++(request.authorization.empty() ? files_without_token_ : files_with_token_);
  // The error[] file and expired files (export_variants.h).
  const bool error_file = ref && ref->type_index == kErrorFileIndex;
  bool ready = job && job->tenant == tenant && !job->failed &&
               (error_file ? options_.variants.error_lines > 0 : job->counts[ref->type_index] > 0) &&
               std::chrono::steady_clock::now() - job->started >= options_.job_delay;
  if (!ready) return Outcome(reply, 404, "not-found", "Unknown export file");
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  if (FilesExpired(*job, options_.job_delay, options_.variants.file_expires, now_ms)) {
    return Outcome(reply, 410, "deleted", "Export file expired");
  }
  reply.status = 200;
  reply.content_type = "application/fhir+ndjson";
  if (error_file) {
    reply.body = ErrorFileBody(job->id, options_.variants.error_lines);
    return;
  }
  if (!job->members.empty()) {  // a multi-member Group: built in memory (bulk_match.h)
    reply.body = GroupFileBody(synth_, job->members, Synth::Types()[ref->type_index], job->since);
    return;
  }
  if (std::string extra = lifecycle_.ExtraLines(job->member, Synth::Types()[ref->type_index],
                                                job->generation, job->since);
      !extra.empty()) {  // --updates-per-export: the base lines, then this export's changes
    NdjsonProducer base(synth_, job->member, Synth::Types()[ref->type_index], job->since);
    while (base.Fill(reply.body, reply.body.size() + (1 << 20))) {
    }
    reply.body += extra;
    return;
  }
  FileStreamSpec spec;
  spec.member = job->member;
  spec.type_index = ref->type_index;
  spec.since = EffectiveSince(*job, ref->type_index);  // _since and _typeFilter
  std::string ae(request.accept_encoding);
  std::transform(ae.begin(), ae.end(), ae.begin(), [](unsigned char c) { return std::tolower(c); });
  spec.gzip = ae.find("gzip") != std::string::npos && ae.find("gzip;q=0") == std::string::npos;
  reply.file = spec;
}

void SandboxApp::DeletedFile(std::string_view tenant, std::string_view name, AppReply& reply) {
  constexpr std::string_view kExt = ".ndjson";
  std::optional<ExportJob> job;
  if (name.size() > kExt.size() && name.substr(name.size() - kExt.size()) == kExt) {
    job = jobs_.Find(name.substr(0, name.size() - kExt.size()));
  }
  const bool ready = job && job->tenant == tenant && !job->failed && job->members.empty() &&
                     options_.lifecycle.deleted_files > 0 &&
                     std::chrono::steady_clock::now() - job->started >= options_.job_delay;
  if (!ready) return Outcome(reply, 404, "not-found", "Unknown export file");
  reply.status = 200;
  reply.content_type = "application/fhir+ndjson";
  reply.body = lifecycle_.DeletedFile(job->member);
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
  out += R"(,"jobs_cancelled":)" + std::to_string(jobs_.removed()) + "}";
  return out;
}

}  // namespace p2p::sandbox
