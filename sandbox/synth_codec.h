// Hashing and reversible id codecs behind Synth: everything a member is, and every id it is known
// by, derives from (seed, index) through these functions, so no per-member table exists.
//
//   group id     "c" + 13 base36 (permuted index) + 11 base36 (check)   25 chars, cuid-like
//   coverage id  UUID v4 shape; 64 bits of permuted index + 58 check bits in the hex
//   member token 13 base36 (index under another permutation), used inside resource ids
//
// The permutation is the splitmix64 finalizer (a bijection on 64 bits) keyed by the seed, so a
// decoder recovers the index, then re-encodes and compares: garbage and near misses are rejected.
// Pure, header-only, thread-safe; writers fill caller-provided buffers and never allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace p2p::sandbox::synth {

inline constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

constexpr uint64_t Fmix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr uint64_t InverseOdd(uint64_t a) {
  uint64_t x = a;  // correct to 3 bits; each Newton step doubles that
  for (int i = 0; i < 5; ++i) x *= 2 - a * x;
  return x;
}

constexpr uint64_t UnFmix(uint64_t z) {
  z = z ^ (z >> 31) ^ (z >> 62);
  z *= InverseOdd(0x94d049bb133111ebULL);
  z = z ^ (z >> 27) ^ (z >> 54);
  z *= InverseOdd(0xbf58476d1ce4e5b9ULL);
  return z ^ (z >> 30) ^ (z >> 60);
}

// A key for one purpose (salt) under a seed.
constexpr uint64_t Key(uint64_t seed, uint64_t salt) {
  return Fmix(Fmix(seed ^ (salt * kGolden)) + salt);
}
// A well-mixed value for item x under key.
constexpr uint64_t Hash(uint64_t key, uint64_t x) { return Fmix(key + (x + 1) * kGolden); }
// Keyed bijection on 64 bits and its inverse.
constexpr uint64_t Permute(uint64_t key, uint64_t x) { return Fmix(x ^ key) ^ Fmix(~key); }
constexpr uint64_t Unpermute(uint64_t key, uint64_t y) { return UnFmix(y ^ Fmix(~key)) ^ key; }

// Salts: one per purpose; never reuse one for two purposes.
enum Salt : uint64_t {
  kSaltGroupPerm = 11,
  kSaltGroupCheck,
  kSaltCoveragePerm,
  kSaltCoverageCheck,
  kSaltTokenPerm,
  kSaltMember,
  kSaltBirth,
  kSaltCount,           // + type index
  kSaltResource = 100,  // + type index
};

// splitmix64 stream for drawing a sequence of values from one hash.
struct Rng {
  uint64_t state;
  uint64_t Next() { return Fmix(state += kGolden); }
  uint64_t Below(uint64_t n) { return Next() % n; }
  bool Percent(uint64_t p) { return Below(100) < p; }
};

inline constexpr std::string_view kSeedGroupId = "cmk1cuald0005l701sdo7gs8c";
inline constexpr std::string_view kSeedCoverageId = "17148123-47da-43a0-8401-8d5d1368db02";
inline constexpr size_t kGroupIdLen = 25;
inline constexpr size_t kCoverageIdLen = 36;
inline constexpr size_t kTokenLen = 13;

// Fixed-width lowercase base36, most significant digit first.
inline void WriteBase36(char* out, uint64_t v, size_t width) {
  for (size_t i = width; i-- > 0;) {
    out[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
    v /= 36;
  }
}

// Parses lowercase base36; false on a bad digit or overflow.
inline bool ParseBase36(std::string_view s, uint64_t& v) {
  v = 0;
  for (char c : s) {
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'z') {
      d = static_cast<uint64_t>(c - 'a') + 10;
    } else {
      return false;
    }
    if (v > (UINT64_MAX - d) / 36) return false;
    v = v * 36 + d;
  }
  return true;
}

// Member token for resource ids: 13 chars (36^13 > 2^64).
inline void WriteMemberToken(uint64_t seed, uint64_t index, char* out) {
  WriteBase36(out, Permute(Key(seed, kSaltTokenPerm), index), kTokenLen);
}

// Group id of member `index` (member 0 carries the seed document's group id).
inline void WriteGroupId(uint64_t seed, uint64_t index, char* out) {
  if (index == 0) {
    for (size_t i = 0; i < kGroupIdLen; ++i) out[i] = kSeedGroupId[i];
    return;
  }
  constexpr uint64_t k36pow11 = 131621703842267136ULL;
  out[0] = 'c';
  WriteBase36(out + 1, Permute(Key(seed, kSaltGroupPerm), index), 13);
  WriteBase36(out + 14, Hash(Key(seed, kSaltGroupCheck), index) % k36pow11, 11);
}

// Candidate index encoded in a group id (not yet verified: re-encode and compare).
inline bool DecodeGroupIndex(uint64_t seed, std::string_view id, uint64_t& index) {
  if (id == kSeedGroupId) {
    index = 0;
    return true;
  }
  uint64_t v = 0;
  if (id.size() != kGroupIdLen || id[0] != 'c' || !ParseBase36(id.substr(1, 13), v)) return false;
  index = Unpermute(Key(seed, kSaltGroupPerm), v);
  return true;
}

// UUID-shaped coverage id: nibbles 0-11 and 13-15 and 17 carry the permuted index, nibble 12 is
// the version (4), nibble 16 the variant (8..b) with two check bits, nibbles 18-31 check bits.
inline void WriteCoverageId(uint64_t seed, uint64_t index, char* out) {
  if (index == 0) {
    for (size_t i = 0; i < kCoverageIdLen; ++i) out[i] = kSeedCoverageId[i];
    return;
  }
  const uint64_t v = Permute(Key(seed, kSaltCoveragePerm), index);
  const uint64_t c = Hash(Key(seed, kSaltCoverageCheck), index);
  uint8_t nib[32];
  for (int i = 0; i < 12; ++i) nib[i] = static_cast<uint8_t>((v >> (60 - 4 * i)) & 0xf);
  nib[12] = 4;
  for (int i = 13; i < 16; ++i) nib[i] = static_cast<uint8_t>((v >> (64 - 4 * i)) & 0xf);
  nib[16] = static_cast<uint8_t>(8 | (c & 3));
  nib[17] = static_cast<uint8_t>(v & 0xf);
  for (int i = 18; i < 32; ++i) nib[i] = static_cast<uint8_t>((c >> (2 + 4 * (i - 18))) & 0xf);
  size_t o = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out[o++] = '-';
    out[o++] = "0123456789abcdef"[nib[i]];
  }
}

inline bool DecodeCoverageIndex(uint64_t seed, std::string_view id, uint64_t& index) {
  if (id == kSeedCoverageId) {
    index = 0;
    return true;
  }
  if (id.size() != kCoverageIdLen) return false;
  uint8_t nib[32];
  int n = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    const char ch = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-') return false;
      continue;
    }
    if (ch >= '0' && ch <= '9') {
      nib[n++] = static_cast<uint8_t>(ch - '0');
    } else if (ch >= 'a' && ch <= 'f') {
      nib[n++] = static_cast<uint8_t>(ch - 'a' + 10);
    } else {
      return false;
    }
  }
  uint64_t v = 0;
  for (int i = 0; i < 12; ++i) v = (v << 4) | nib[i];
  for (int i = 13; i < 16; ++i) v = (v << 4) | nib[i];
  v = (v << 4) | nib[17];
  index = Unpermute(Key(seed, kSaltCoveragePerm), v);
  return true;
}

}  // namespace p2p::sandbox::synth
