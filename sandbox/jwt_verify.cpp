#include "jwt_verify.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <simdjson.h>

namespace p2p::sandbox {
namespace {

constexpr size_t kMaxAssertion = 16 * 1024;
constexpr int64_t kMaxLifetime = 300;  // "no more than five minutes in the future"
constexpr int kEs384Half = 48;

// RFC 7515 §2 base64url: no padding, no other alphabet.
std::optional<std::string> DecodeB64Url(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<std::shared_ptr<EVP_PKEY>> KeyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  const bool ok = params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
                  EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) return std::nullopt;
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

std::optional<std::shared_ptr<EVP_PKEY>> RsaPublic(simdjson::dom::object jwk) {
  std::string_view n64, e64;
  if (jwk["n"].get_string().get(n64) || jwk["e"].get_string().get(e64)) return std::nullopt;
  auto n = DecodeB64Url(n64);
  auto e = DecodeB64Url(e64);
  if (!n || !e || n->size() < 256 || e->empty()) return std::nullopt;  // RSA >= 2048 bits
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                           static_cast<int>(n->size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                           static_cast<int>(e->size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::optional<std::shared_ptr<EVP_PKEY>> key;
  if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
    key = KeyFromParams("RSA", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return key;
}

std::optional<std::shared_ptr<EVP_PKEY>> EcPublic(simdjson::dom::object jwk) {
  std::string_view crv, x64, y64;
  if (jwk["crv"].get_string().get(crv) || crv != "P-384" || jwk["x"].get_string().get(x64) ||
      jwk["y"].get_string().get(y64)) {
    return std::nullopt;
  }
  auto x = DecodeB64Url(x64);
  auto y = DecodeB64Url(y64);
  if (!x || !y || x->size() != kEs384Half || y->size() != kEs384Half) return std::nullopt;
  std::string point = "\x04" + *x + *y;  // SEC1 uncompressed point
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::optional<std::shared_ptr<EVP_PKEY>> key;
  if (bld &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-384", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) == 1) {
    key = KeyFromParams("EC", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  return key;
}

// JWS raw R||S (96 bytes) -> DER ECDSA-Sig-Value for OpenSSL.
std::optional<std::string> RawToDer(std::string_view raw) {
  if (raw.size() != 2 * kEs384Half) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(p, kEs384Half, nullptr);
  BIGNUM* s = BN_bin2bn(p + kEs384Half, kEs384Half, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool VerifySignature(EVP_PKEY* pkey, std::string_view signed_part, std::string_view signature) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha384(), nullptr, pkey) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(),
                       reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

AssertionVerdict Reject(std::string description) {
  AssertionVerdict v;
  v.description = std::move(description);
  return v;
}

}  // namespace

std::optional<std::vector<PublicJwk>> ParsePublicJwks(std::string_view json, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array keys;
  if (parser.parse(simdjson::padded_string(json)).get(doc) || doc["keys"].get_array().get(keys)) {
    *error = "expected a JWK set {\"keys\":[...]}";
    return std::nullopt;
  }
  std::vector<PublicJwk> out;
  size_t index = 0;
  for (simdjson::dom::element item : keys) {
    const std::string where = "keys[" + std::to_string(index++) + "]";
    simdjson::dom::object jwk;
    std::string_view kty, kid;
    if (item.get_object().get(jwk) || jwk["kty"].get_string().get(kty)) {
      *error = where + ": expected a JWK with kty";
      return std::nullopt;
    }
    if (jwk["kid"].get_string().get(kid)) kid = {};
    std::optional<std::shared_ptr<EVP_PKEY>> pkey;
    if (kty == "RSA") {
      pkey = RsaPublic(jwk);
    } else if (kty == "EC") {
      pkey = EcPublic(jwk);
    } else {
      *error = where + ": kty must be RSA or EC";
      return std::nullopt;
    }
    if (!pkey) {
      *error = where + ": not a usable RSA (>= 2048 bits) or EC P-384 public key";
      return std::nullopt;
    }
    out.push_back({std::string(kid), std::string(kty), std::move(*pkey)});
  }
  if (out.empty()) {
    *error = "the JWK set has no keys";
    return std::nullopt;
  }
  return out;
}

bool AssertionVerifier::AddClient(const std::string& client_id, std::string_view jwks_json,
                                  std::string* error) {
  auto keys = ParsePublicJwks(jwks_json, error);
  if (!keys) return false;
  auto& list = clients_[client_id];
  list.insert(list.end(), keys->begin(), keys->end());
  return true;
}

AssertionVerdict AssertionVerifier::Verify(std::string_view assertion, std::string_view token_url,
                                           int64_t now_unix) {
  if (assertion.size() > kMaxAssertion) return Reject("client_assertion is too large");
  const size_t dot1 = assertion.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : assertion.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || assertion.find('.', dot2 + 1) != std::string_view::npos) {
    return Reject("client_assertion is not a compact JWS");
  }
  auto header_json = DecodeB64Url(assertion.substr(0, dot1));
  auto claims_json = DecodeB64Url(assertion.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = DecodeB64Url(assertion.substr(dot2 + 1));
  if (!header_json || !claims_json || !signature) {
    return Reject("client_assertion is not base64url");
  }
  simdjson::dom::parser header_parser, claims_parser;
  simdjson::dom::object header, claims;
  if (header_parser.parse(simdjson::padded_string(*header_json)).get(header) ||
      claims_parser.parse(simdjson::padded_string(*claims_json)).get(claims)) {
    return Reject("client_assertion header or claims are not JSON objects");
  }
  std::string_view alg, kid, iss, sub, jti;
  if (header["alg"].get_string().get(alg) || (alg != "RS384" && alg != "ES384")) {
    return Reject("alg must be RS384 or ES384");
  }
  if (header["kid"].get_string().get(kid)) kid = {};
  if (claims["iss"].get_string().get(iss) || claims["sub"].get_string().get(sub) || iss != sub) {
    return Reject("iss and sub must both be the client_id");
  }
  auto client = clients_.find(iss);
  if (client == clients_.end()) return Reject("unknown client (iss)");

  const std::string_view kty = alg == "RS384" ? "RSA" : "EC";
  const PublicJwk* key = nullptr;
  bool verified = false;
  std::string der;
  std::string_view sig_bytes = *signature;
  if (alg == "ES384") {
    auto converted = RawToDer(*signature);
    if (!converted) return Reject("ES384 signature must be 96 bytes (R||S)");
    der = std::move(*converted);
    sig_bytes = der;
  }
  const std::string_view signed_part = assertion.substr(0, dot2);
  for (const PublicJwk& candidate : client->second) {
    if (candidate.kty != kty || (!kid.empty() && candidate.kid != kid)) continue;
    key = &candidate;
    if (VerifySignature(candidate.pkey.get(), signed_part, sig_bytes)) {
      verified = true;
      break;
    }
  }
  if (key == nullptr) return Reject("no registered key matches kid and alg");
  if (!verified) return Reject("signature verification failed");

  int64_t exp = 0;
  if (claims["exp"].get_int64().get(exp)) return Reject("exp is required");
  if (exp <= now_unix) return Reject("client_assertion has expired (exp)");
  if (exp > now_unix + kMaxLifetime) return Reject("exp is more than five minutes in the future");

  bool aud_ok = false;
  std::string_view aud;
  simdjson::dom::array auds;
  if (claims["aud"].get_string().get(aud) == simdjson::SUCCESS) {
    aud_ok = aud == token_url;
  } else if (claims["aud"].get_array().get(auds) == simdjson::SUCCESS) {
    for (simdjson::dom::element a : auds) {
      aud_ok = aud_ok || (a.get_string().get(aud) == simdjson::SUCCESS && aud == token_url);
    }
  }
  if (!aud_ok) return Reject("aud must be the token endpoint URL");

  if (claims["jti"].get_string().get(jti) || jti.empty()) return Reject("jti is required");
  const std::string client_id(iss);
  if (!RememberJti(client_id, std::string(jti), exp, now_unix)) {
    return Reject("jti has already been used");
  }
  AssertionVerdict ok;
  ok.ok = true;
  ok.client_id = client_id;
  return ok;
}

bool AssertionVerifier::RememberJti(const std::string& client_id, const std::string& jti,
                                    int64_t exp, int64_t now_unix) {
  std::lock_guard lock(mu_);
  if (seen_jti_.size() >= jti_capacity_) {
    for (auto it = seen_jti_.begin(); it != seen_jti_.end();) {
      it = it->second <= now_unix ? seen_jti_.erase(it) : std::next(it);
    }
    // Still full of live entries: refuse rather than forget one (a replay window).
    if (seen_jti_.size() >= jti_capacity_) return false;
  }
  return seen_jti_.emplace(client_id + '\n' + jti, exp).second;
}

}  // namespace p2p::sandbox
