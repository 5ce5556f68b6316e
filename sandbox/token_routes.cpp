// SandboxApp's OAuth endpoints (contract in sandbox_app.h): the token endpoint (client secret,
// Basic or form, and private_key_jwt; client_credentials only) and SMART discovery.
#include <chrono>

#include "sandbox_app.h"
#include "text_util.h"

namespace p2p::sandbox {
namespace {

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

}  // namespace p2p::sandbox
