// The SMART Backend Services client assertion (RFC 7523 §2.2 profile of SMART App Launch STU2
// "Backend Services"): a JWS compact JWT signed RS384 or ES384 with header {alg, typ, kid[, jku]}
// and claims iss = sub = client_id, aud = the token URL, exp, jti. ES384 signatures are the raw
// 96-byte R||S form JWS requires (RFC 7518 §3.4), not OpenSSL's DER.
//
// Pure apart from the signature itself (ECDSA draws a random nonce inside OpenSSL); the caller
// supplies the clock reading and the jti. Thread-safe: no state.
// Errors: kInvalid for a bad input (lifetime out of range), kInternal when OpenSSL fails to sign.
// Messages never contain key material.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "auth/jwk.h"
#include "core/result.h"

namespace p2p::auth {

// SMART: exp "SHALL be no more than five minutes in the future".
inline constexpr int64_t kMaxAssertionLifetimeSeconds = 300;
// What the token cache uses: a minute below the cap, so a server whose clock runs a little
// behind ours still accepts it.
inline constexpr int64_t kDefaultAssertionLifetimeSeconds = 240;

struct AssertionInput {
  std::string client_id;                             // iss and sub
  std::string audience;                              // aud: the token endpoint URL, exactly
  std::string jti;                                   // unique per assertion
  std::string jku;                                   // optional JWS header
  int64_t now_unix = 0;                              // seconds since the epoch
  int64_t lifetime_seconds = kDefaultAssertionLifetimeSeconds;  // exp = now + this, 1..300
};

// The signed compact JWS "header.claims.signature".
Result<std::string> SignClientAssertion(const SigningKey& key, const AssertionInput& input);

// A fresh jti: 128 random bits as 32 hex digits (OpenSSL RAND_bytes).
Result<std::string> NewJti();

}  // namespace p2p::auth
