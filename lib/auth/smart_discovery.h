// SMART discovery (App Launch STU2 §"SMART configuration"): the token endpoint read from
// {base_url}/.well-known/smart-configuration, and the checks before a credential goes there.
// Pure: the token cache does the GET and caches the outcome.
// Errors: kProtocol for a document without a usable token_endpoint; kUntrustedHost when the
// endpoint's host is not one the payer trusts or it would downgrade https to http; kAuth when
// the document lists the methods it supports and ours is not among them. Messages name hosts
// and fields only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/options.h"
#include "core/result.h"
#include "core/url.h"

namespace p2p::auth {

inline constexpr std::string_view kSmartConfigurationPath = "/.well-known/smart-configuration";

struct SmartConfiguration {
  std::string token_endpoint;
  std::vector<std::string> auth_methods;    // token_endpoint_auth_methods_supported (may be empty)
  std::vector<std::string> signing_algs;    // token_endpoint_auth_signing_alg_values_supported
};

// Decodes the JSON document (strings up to 4096 bytes, lists up to 64 entries).
Result<SmartConfiguration> ReadSmartConfiguration(std::string_view body);

// The token URL to use: absolute, on a trusted host (`trusted_hosts`, or the base URL's host
// when empty), https unless the base URL itself is plain http, and supporting `method`.
Result<Url> CheckTokenEndpoint(const SmartConfiguration& config, const Url& base_url,
                               const std::vector<std::string>& trusted_hosts, AuthMethod method);

// "client_secret_post" | "client_secret_basic" | "private_key_jwt".
std::string_view AuthMethodName(AuthMethod method);

}  // namespace p2p::auth
