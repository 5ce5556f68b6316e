#include "auth/smart_discovery.h"

#include <simdjson.h>

#include <algorithm>

namespace p2p::auth {
namespace {

constexpr size_t kMaxString = 4096;
constexpr size_t kMaxList = 64;

Error Protocol(std::string message) {
  return MakeError(ErrorKind::kProtocol, "smart-configuration: " + std::move(message));
}

// An optional list of short strings; anything else in it is skipped.
std::vector<std::string> StringList(simdjson::dom::element doc, std::string_view key) {
  std::vector<std::string> out;
  simdjson::dom::array list;
  if (doc[key].get_array().get(list)) return out;
  for (simdjson::dom::element item : list) {
    std::string_view s;
    if (out.size() < kMaxList && item.get_string().get(s) == simdjson::SUCCESS &&
        s.size() <= 64) {
      out.emplace_back(s);
    }
  }
  return out;
}

}  // namespace

std::string_view AuthMethodName(AuthMethod method) {
  switch (method) {
    case AuthMethod::kClientSecretPost:
      return "client_secret_post";
    case AuthMethod::kClientSecretBasic:
      return "client_secret_basic";
    case AuthMethod::kPrivateKeyJwt:
      return "private_key_jwt";
  }
  return "client_secret_post";
}

Result<SmartConfiguration> ReadSmartConfiguration(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(body)).get(doc) || !doc.is_object()) {
    return Protocol("not a JSON object");
  }
  SmartConfiguration config;
  std::string_view endpoint;
  if (doc["token_endpoint"].get_string().get(endpoint) || endpoint.empty()) {
    return Protocol("token_endpoint is missing");
  }
  if (endpoint.size() > kMaxString) return Protocol("token_endpoint is over 4096 bytes");
  config.token_endpoint = std::string(endpoint);
  config.auth_methods = StringList(doc, "token_endpoint_auth_methods_supported");
  config.signing_algs = StringList(doc, "token_endpoint_auth_signing_alg_values_supported");
  return config;
}

Result<Url> CheckTokenEndpoint(const SmartConfiguration& config, const Url& base_url,
                               const std::vector<std::string>& trusted_hosts, AuthMethod method) {
  Result<Url> url = Url::Parse(config.token_endpoint);
  if (!url) return Protocol("token_endpoint is not an absolute http(s) URL");
  const bool trusted =
      trusted_hosts.empty()
          ? url->host == base_url.host
          : std::find(trusted_hosts.begin(), trusted_hosts.end(), url->host) != trusted_hosts.end();
  if (!trusted) {
    return MakeError(ErrorKind::kUntrustedHost,
                     "smart-configuration: token_endpoint host " + url->host +
                         " is not in trusted_hosts");
  }
  if (!url->tls() && base_url.tls()) {
    return MakeError(ErrorKind::kUntrustedHost,
                     "smart-configuration: token_endpoint is plain http under an https base_url");
  }
  const std::string_view name = AuthMethodName(method);
  if (!config.auth_methods.empty() &&
      std::find(config.auth_methods.begin(), config.auth_methods.end(), name) ==
          config.auth_methods.end()) {
    return MakeError(ErrorKind::kAuth, "smart-configuration: token endpoint does not support " +
                                           std::string(name));
  }
  return url;
}

}  // namespace p2p::auth
