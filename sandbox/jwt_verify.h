// p2p-sandbox's side of SMART Backend Services (App Launch STU2, "Backend Services" and
// "Client Authentication: Asymmetric"): registered clients' public keys, and the verification of
// a client_assertion at the token endpoint. Written independently of the daemon's signer (no
// lib/ code), so that a misreading of the spec cannot hide on both sides.
//
// Checks, in order: compact JWS shape; header alg RS384|ES384 and kid; iss = sub = a registered
// client; a key of that client with the kid (or, without kid, any key of the right type);
// signature (ES384: raw 96-byte R||S); exp present, not past, at most 5 minutes ahead; aud =
// the token URL (string or array); jti present and never seen before while unexpired. Every
// failure is the OAuth `invalid_client` error the spec names, with a description saying which
// check failed. A jti is remembered only for assertions that passed every other check.
//
// Threading: Verify() is thread-safe (the jti table has its own mutex); AddClient() is for setup,
// before the server starts.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace p2p::sandbox {

inline constexpr std::string_view kJwtBearerAssertionType =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

struct PublicJwk {
  std::string kid;   // may be empty
  std::string kty;   // "RSA" | "EC"
  std::shared_ptr<EVP_PKEY> pkey;
};

// Parses a JWK set ({"keys":[...]}) of RSA (n, e) and EC P-384 (x, y) public keys. Private
// members are ignored. nullopt with *error set when the set or any key in it is unusable.
std::optional<std::vector<PublicJwk>> ParsePublicJwks(std::string_view json, std::string* error);

struct AssertionVerdict {
  bool ok = false;
  std::string client_id;    // on success
  std::string description;  // on failure: which check failed (no key material)
};

class AssertionVerifier {
 public:
  explicit AssertionVerifier(size_t jti_capacity = 100'000) : jti_capacity_(jti_capacity) {}

  // Registers `client_id` with the keys of a JWK set; false with *error when it does not parse.
  bool AddClient(const std::string& client_id, std::string_view jwks_json, std::string* error);
  bool empty() const { return clients_.empty(); }

  // Verifies a client_assertion addressed to `token_url` at time `now_unix` (seconds).
  AssertionVerdict Verify(std::string_view assertion, std::string_view token_url,
                          int64_t now_unix);

 private:
  bool RememberJti(const std::string& client_id, const std::string& jti, int64_t exp,
                   int64_t now_unix);

  std::map<std::string, std::vector<PublicJwk>, std::less<>> clients_;
  std::mutex mu_;
  size_t jti_capacity_;
  std::unordered_map<std::string, int64_t> seen_jti_;  // client_id + '\n' + jti -> exp
};

}  // namespace p2p::sandbox
