#include "auth/jwk.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <simdjson.h>

#include <array>
#include <vector>

namespace p2p::auth {
namespace {

constexpr size_t kMaxKeyText = 64 * 1024;
constexpr size_t kP384Bytes = 48;

Error Invalid(std::string message) { return MakeError(ErrorKind::kInvalid, std::move(message)); }

struct BnFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* pkey) { return {pkey, EVP_PKEY_free}; }

// Key type check and the algorithm it implies.
Result<JwtAlgorithm> AlgorithmFor(const EVP_PKEY* pkey, JwtAlgorithm wanted) {
  JwtAlgorithm actual;
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    if (EVP_PKEY_get_bits(pkey) < 2048) return Invalid("RSA key is shorter than 2048 bits");
    actual = JwtAlgorithm::kRs384;
  } else if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) != 1 ||
        std::string_view(group, len) != "secp384r1") {
      return Invalid("EC key is not on curve P-384");
    }
    actual = JwtAlgorithm::kEs384;
  } else {
    return Invalid("not an RSA or EC P-384 key");
  }
  if (wanted != JwtAlgorithm::kFromKey && wanted != actual) {
    return Invalid(std::string("algorithm ") + std::string(AlgorithmName(wanted)) +
                   " does not match the key type");
  }
  return actual;
}

Result<std::shared_ptr<EVP_PKEY>> ParsePem(std::string_view text) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
  if (!bio) return Invalid("out of memory");
  // A callback that refuses: OpenSSL would otherwise prompt for a passphrase on the terminal.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (pkey == nullptr) return Invalid("not a PEM private key (encrypted keys are not supported)");
  return Share(pkey);
}

// One base64url JWK member as a big-endian integer.
Result<BnPtr> Member(simdjson::dom::object jwk, std::string_view name) {
  std::string_view text;
  if (jwk[name].get_string().get(text)) return Invalid("JWK member " + std::string(name) + " is missing");
  Result<std::string> bytes = Base64UrlDecode(text);
  if (!bytes || bytes->empty()) return Invalid("JWK member " + std::string(name) + " is not base64url");
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes->data()),
                         static_cast<int>(bytes->size()), nullptr);
  if (bn == nullptr) return Invalid("out of memory");
  return BnPtr(bn);
}

Result<std::shared_ptr<EVP_PKEY>> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld),
                                                                 OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return Invalid("JWK is not a valid private key");
  }
  return Share(pkey);
}

Result<std::shared_ptr<EVP_PKEY>> RsaFromJwk(simdjson::dom::object jwk) {
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  std::vector<BnPtr> keep;  // must outlive the built params
  static constexpr std::array<std::pair<std::string_view, const char*>, 3> kRequired = {
      {{"n", OSSL_PKEY_PARAM_RSA_N}, {"e", OSSL_PKEY_PARAM_RSA_E}, {"d", OSSL_PKEY_PARAM_RSA_D}}};
  static constexpr std::array<std::pair<std::string_view, const char*>, 5> kCrt = {
      {{"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
       {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
       {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
       {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
       {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}}};
  for (const auto& [name, param] : kRequired) {
    Result<BnPtr> bn = Member(jwk, name);
    if (!bn) return std::move(bn).error();
    OSSL_PARAM_BLD_push_BN(bld.get(), param, bn->get());
    keep.push_back(std::move(*bn));
  }
  if (jwk["p"].error() == simdjson::SUCCESS) {  // CRT members go all together
    for (const auto& [name, param] : kCrt) {
      Result<BnPtr> bn = Member(jwk, name);
      if (!bn) return std::move(bn).error();
      OSSL_PARAM_BLD_push_BN(bld.get(), param, bn->get());
      keep.push_back(std::move(*bn));
    }
  }
  return FromParams("RSA", bld.get());
}

Result<std::shared_ptr<EVP_PKEY>> EcFromJwk(simdjson::dom::object jwk) {
  std::string_view crv;
  if (jwk["crv"].get_string().get(crv) || crv != "P-384") return Invalid("EC JWK is not on curve P-384");
  std::string point = "\x04";
  for (std::string_view name : {"x", "y"}) {
    std::string_view text;
    if (jwk[name].get_string().get(text)) return Invalid("JWK member " + std::string(name) + " is missing");
    Result<std::string> bytes = Base64UrlDecode(text);
    if (!bytes || bytes->size() != kP384Bytes) {
      return Invalid("JWK member " + std::string(name) + " is not a P-384 coordinate");
    }
    point += *bytes;
  }
  Result<BnPtr> d = Member(jwk, "d");
  if (!d) return std::move(d).error();
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d->get());
  return FromParams("EC", bld.get());
}

struct JwkPick {
  std::shared_ptr<EVP_PKEY> pkey;
  std::string kid;  // the JWK's own, may be empty
};

Result<JwkPick> ParseJwkSet(std::string_view text, std::string_view kid) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(text)).get(doc)) return Invalid("JWK set is not JSON");
  std::vector<simdjson::dom::object> candidates;
  simdjson::dom::array keys;
  simdjson::dom::object single;
  if (doc["keys"].get_array().get(keys) == simdjson::SUCCESS) {
    for (simdjson::dom::element k : keys) {
      simdjson::dom::object obj;
      if (k.get_object().get(obj) == simdjson::SUCCESS && obj["d"].error() == simdjson::SUCCESS) {
        candidates.push_back(obj);
      }
    }
  } else if (doc.get_object().get(single) == simdjson::SUCCESS &&
             single["d"].error() == simdjson::SUCCESS) {
    candidates.push_back(single);
  } else {
    return Invalid("JWK set has no \"keys\" array");
  }
  const simdjson::dom::object* chosen = nullptr;
  for (const simdjson::dom::object& c : candidates) {
    std::string_view own;
    const bool has_kid = c["kid"].get_string().get(own) == simdjson::SUCCESS;
    if (kid.empty() || (has_kid && own == kid)) {
      if (chosen != nullptr) return Invalid("JWK set has several private keys: set auth.key_id");
      chosen = &c;
    }
  }
  if (chosen == nullptr) {
    return Invalid(kid.empty() ? "JWK set has no private key"
                               : "JWK set has no private key with kid " + JsonQuote(kid));
  }
  std::string_view kty, own;
  if ((*chosen)["kid"].get_string().get(own) != simdjson::SUCCESS) own = {};
  if ((*chosen)["kty"].get_string().get(kty)) return Invalid("JWK member kty is missing");
  Result<std::shared_ptr<EVP_PKEY>> pkey = kty == "RSA" ? RsaFromJwk(*chosen)
                                           : kty == "EC" ? EcFromJwk(*chosen)
                                                         : Invalid("JWK kty must be RSA or EC");
  if (!pkey) return std::move(pkey).error();
  return JwkPick{std::move(*pkey), std::string(own)};
}

// A BIGNUM parameter of `pkey` as base64url, left-padded to `width` bytes (0: minimal).
Result<std::string> BnParam(const EVP_PKEY* pkey, const char* name, int width) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return Invalid("key lacks a parameter");
  BnPtr bn(raw);
  std::string bytes(static_cast<size_t>(width > 0 ? width : BN_num_bytes(bn.get())), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()),
                   static_cast<int>(bytes.size())) < 0) {
    return Invalid("key parameter too large");
  }
  return Base64UrlEncode(bytes);
}

}  // namespace

std::string_view AlgorithmName(JwtAlgorithm algorithm) {
  return algorithm == JwtAlgorithm::kEs384 ? "ES384" : "RS384";
}

Result<SigningKey> ParseSigningKey(std::string_view text, std::string_view kid,
                                   JwtAlgorithm algorithm) {
  if (text.size() > kMaxKeyText) return Invalid("key text is over 64 KiB");
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return Invalid("key text is empty");
  std::string own_kid;
  std::shared_ptr<EVP_PKEY> pkey;
  if (text[first] == '{') {
    Result<JwkPick> pick = ParseJwkSet(text, kid);
    if (!pick) return std::move(pick).error();
    pkey = std::move(pick->pkey);
    own_kid = std::move(pick->kid);
  } else {
    Result<std::shared_ptr<EVP_PKEY>> pem = ParsePem(text);
    if (!pem) return std::move(pem).error();
    pkey = std::move(*pem);
  }
  Result<JwtAlgorithm> alg = AlgorithmFor(pkey.get(), algorithm);
  if (!alg) return std::move(alg).error();
  SigningKey key{std::move(pkey), *alg, std::string(kid)};
  if (key.kid.empty()) key.kid = std::move(own_kid);
  if (key.kid.empty()) {
    Result<std::string> thumb = JwkThumbprint(key.pkey.get());
    if (!thumb) return std::move(thumb).error();
    key.kid = std::move(*thumb);
  }
  return key;
}

Result<std::string> KeyToJwk(const EVP_PKEY* pkey, std::string_view kid, JwtAlgorithm algorithm,
                             bool include_private) {
  Result<JwtAlgorithm> alg = AlgorithmFor(pkey, algorithm);
  if (!alg) return std::move(alg).error();
  std::string out = "{";
  auto add = [&](std::string_view name, const char* param, int width) -> Result<void> {
    Result<std::string> value = BnParam(pkey, param, width);
    if (!value) return std::move(value).error();
    out += JsonQuote(name) + ":" + JsonQuote(*value) + ",";
    return Ok();
  };
  std::vector<std::tuple<std::string_view, const char*, int>> members;
  if (*alg == JwtAlgorithm::kRs384) {
    out += R"("kty":"RSA",)";
    members = {{"n", OSSL_PKEY_PARAM_RSA_N, 0}, {"e", OSSL_PKEY_PARAM_RSA_E, 0}};
    if (include_private) {
      members.insert(members.end(), {{"d", OSSL_PKEY_PARAM_RSA_D, 0},
                                     {"p", OSSL_PKEY_PARAM_RSA_FACTOR1, 0},
                                     {"q", OSSL_PKEY_PARAM_RSA_FACTOR2, 0},
                                     {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1, 0},
                                     {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2, 0},
                                     {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0}});
    }
  } else {
    out += R"("kty":"EC","crv":"P-384",)";
    members = {{"x", OSSL_PKEY_PARAM_EC_PUB_X, kP384Bytes}, {"y", OSSL_PKEY_PARAM_EC_PUB_Y, kP384Bytes}};
    if (include_private) members.emplace_back("d", OSSL_PKEY_PARAM_PRIV_KEY, kP384Bytes);
  }
  for (const auto& [name, param, width] : members) {
    if (Result<void> r = add(name, param, width); !r) return std::move(r).error();
  }
  out += R"("use":"sig","alg":)" + JsonQuote(AlgorithmName(*alg)) + R"(,"kid":)" + JsonQuote(kid) + "}";
  return out;
}

Result<std::string> JwkThumbprint(const EVP_PKEY* pkey) {
  // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
  std::string canonical;
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    Result<std::string> e = BnParam(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
    Result<std::string> n = BnParam(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
    if (!e || !n) return Invalid("RSA key lacks n or e");
    canonical = R"({"e":")" + *e + R"(","kty":"RSA","n":")" + *n + R"("})";
  } else {
    Result<std::string> x = BnParam(pkey, OSSL_PKEY_PARAM_EC_PUB_X, kP384Bytes);
    Result<std::string> y = BnParam(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, kP384Bytes);
    if (!x || !y) return Invalid("EC key lacks x or y");
    canonical = R"({"crv":"P-384","kty":"EC","x":")" + *x + R"(","y":")" + *y + R"("})";
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(canonical.data(), canonical.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return Invalid("cannot hash the key");
  }
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::string Base64UrlEncode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (bytes.size() - i == 1) {
    const uint32_t v = at(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    const uint32_t v = (at(i) << 16) | (at(i + 1) << 8);
    for (int shift : {18, 12, 6}) out += kAlphabet[(v >> shift) & 63];
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return MakeError(ErrorKind::kParse, "bad base64url length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return MakeError(ErrorKind::kParse, "bad base64url character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string JsonQuote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace p2p::auth
