#include "auth/jwt_assertion.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

namespace p2p::auth {
namespace {

constexpr int kEs384Half = 48;

Error SignFailed() { return MakeError(ErrorKind::kInternal, "client assertion: signing failed"); }

// DER ECDSA-Sig-Value -> fixed-width R||S (RFC 7518 §3.4).
Result<std::string> DerToRawEcdsa(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())), ECDSA_SIG_free);
  if (!sig) return SignFailed();
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kEs384Half, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kEs384Half) != kEs384Half ||
      BN_bn2binpad(s, out + kEs384Half, kEs384Half) != kEs384Half) {
    return SignFailed();
  }
  return raw;
}

}  // namespace

Result<std::string> SignClientAssertion(const SigningKey& key, const AssertionInput& input) {
  if (input.lifetime_seconds < 1 || input.lifetime_seconds > kMaxAssertionLifetimeSeconds) {
    return MakeError(ErrorKind::kInvalid, "client assertion: lifetime must be 1..300 seconds");
  }
  std::string header = R"({"alg":)" + JsonQuote(AlgorithmName(key.algorithm)) +
                       R"(,"typ":"JWT","kid":)" + JsonQuote(key.kid);
  if (!input.jku.empty()) header += R"(,"jku":)" + JsonQuote(input.jku);
  header += "}";
  const std::string claims =
      R"({"iss":)" + JsonQuote(input.client_id) + R"(,"sub":)" + JsonQuote(input.client_id) +
      R"(,"aud":)" + JsonQuote(input.audience) +
      R"(,"exp":)" + std::to_string(input.now_unix + input.lifetime_seconds) +
      R"(,"jti":)" + JsonQuote(input.jti) + "}";
  std::string jwt = Base64UrlEncode(header) + "." + Base64UrlEncode(claims);

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(jwt.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key.pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data, jwt.size()) != 1) {
    return SignFailed();
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, data,
                     jwt.size()) != 1) {
    return SignFailed();
  }
  signature.resize(len);
  if (key.algorithm == JwtAlgorithm::kEs384) {
    Result<std::string> raw = DerToRawEcdsa(signature);
    if (!raw) return std::move(raw).error();
    signature = std::move(*raw);
  }
  jwt += "." + Base64UrlEncode(signature);
  return jwt;
}

Result<std::string> NewJti() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return MakeError(ErrorKind::kInternal, "client assertion: no random bytes for jti");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string jti;
  for (unsigned char b : raw) {
    jti += kHex[b >> 4];
    jti += kHex[b & 15];
  }
  return jti;
}

}  // namespace p2p::auth
