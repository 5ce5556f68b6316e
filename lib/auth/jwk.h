// The private_key_jwt signing key: parsed from a PEM private key or from a JWK set with private
// parts (RFC 7517), and written back as a JWK (the public half is what a payer registers).
// Only the two SMART Backend Services key types are accepted: RSA (>= 2048 bits, RS384) and
// EC P-384 (ES384).
//
// Ownership: a SigningKey shares its OpenSSL key (reference counted); copies are cheap and
// immutable, so one key may be used from any thread.
// Errors (kInvalid): messages say what is wrong with the key ("not an RSA or EC P-384 key",
// "no key with kid \"k2\"") and never contain key material.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "config/options.h"
#include "core/result.h"

namespace p2p::auth {

struct SigningKey {
  std::shared_ptr<EVP_PKEY> pkey;
  JwtAlgorithm algorithm = JwtAlgorithm::kRs384;  // never kFromKey
  std::string kid;                                // never empty
};

// "RS384" | "ES384".
std::string_view AlgorithmName(JwtAlgorithm algorithm);

// `text` is a PEM private key (PKCS#8 or traditional; not encrypted) or a JWK set / single JWK
// (JSON). `kid` picks the key of a set (required when the set has several private keys) and is
// the JWS kid; empty: the JWK's own kid, else the RFC 7638 thumbprint. `algorithm` kFromKey
// derives it from the key type; otherwise it must match the key type.
Result<SigningKey> ParseSigningKey(std::string_view text, std::string_view kid,
                                   JwtAlgorithm algorithm);

// The key as one JWK object: {"kty","kid","alg","use":"sig", RSA n/e or EC crv/x/y}, plus the
// private members (RSA d,p,q,dp,dq,qi; EC d) when `include_private`.
Result<std::string> KeyToJwk(const EVP_PKEY* pkey, std::string_view kid, JwtAlgorithm algorithm,
                             bool include_private);

// RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key.
Result<std::string> JwkThumbprint(const EVP_PKEY* pkey);

// base64url without padding (RFC 7515 §2); Decode accepts no padding and no other alphabet.
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace p2p::auth
