// Which resources a synthetic member has: the fixed type order, per-type counts, ids, and each
// resource's dates (event day and meta.lastUpdated), all from (seed, index, type, k). Shared by
// Synth's id/count methods and the resource writers so both always agree. Pure, header-only.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string_view>

#include "synth_codec.h"
#include "synth_json.h"
#include "synth_member.h"

namespace p2p::sandbox::synth {

enum TypeIndex : int {
  kPatient = 0,
  kCoverage,
  kEob,
  kEncounter,
  kObservation,
  kCondition,
  kProcedure,
  kMedicationRequest,
  kSpecimen,
  kTypeCount,
};

inline constexpr std::array<std::string_view, kTypeCount> kTypeNames{
    "Patient",   "Coverage",  "ExplanationOfBenefit", "Encounter", "Observation",
    "Condition", "Procedure", "MedicationRequest",    "Specimen"};
// Id prefixes: distinct per type, so ids are unique across types.
inline constexpr std::array<std::string_view, kTypeCount> kTypePrefixes{
    "pat", "cov", "eob", "enc", "obs", "cnd", "prc", "mrq", "spc"};
// Per-member counts before resource_scale: [min, max].
inline constexpr std::array<uint32_t, kTypeCount> kMinCount{1, 1, 2, 1, 0, 0, 0, 0, 0};
inline constexpr std::array<uint32_t, kTypeCount> kMaxCount{1, 1, 20, 10, 15, 6, 5, 6, 2};

// -1 for a name not in kTypeNames.
inline int FindType(std::string_view name) {
  for (int t = 0; t < kTypeCount; ++t) {
    if (kTypeNames[static_cast<size_t>(t)] == name) return t;
  }
  return -1;
}

inline uint64_t CountOf(uint64_t seed, uint32_t scale, uint64_t index, int t) {
  const auto ut = static_cast<size_t>(t);
  if (kMinCount[ut] == kMaxCount[ut]) return kMinCount[ut];
  const uint64_t span = kMaxCount[ut] - kMinCount[ut] + 1;
  const uint64_t base = kMinCount[ut] + Hash(Key(seed, kSaltCount + ut), index) % span;
  return base * scale;
}

// "eob-<13 base36>-<k>" (Patient and Coverage: no "-k"). Returns the length written.
// `out` must hold 40 chars.
inline size_t WriteResourceId(uint64_t seed, uint64_t index, int t, uint64_t k, char* out) {
  const std::string_view prefix = kTypePrefixes[static_cast<size_t>(t)];
  char* p = out;
  for (char c : prefix) *p++ = c;
  *p++ = '-';
  WriteMemberToken(seed, index, p);
  p += kTokenLen;
  if (t != kPatient && t != kCoverage) {
    *p++ = '-';
    p = std::to_chars(p, out + 40, k).ptr;
  }
  return static_cast<size_t>(p - out);
}

inline uint64_t ResourceHash(uint64_t seed, uint64_t index, int t, uint64_t k) {
  return Hash(Hash(Key(seed, kSaltResource + static_cast<uint64_t>(t)), index), k);
}

// Day of the k-th encounter: the first draw of its stream.
inline int64_t EncounterDay(uint64_t seed, uint64_t index, uint64_t k) {
  const int64_t first = std::max(kEventsFirstDay, BirthDay(seed, index));
  Rng rng{ResourceHash(seed, index, kEncounter, k)};
  return first + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(kEventsLastDay - first + 1)));
}

// What every resource of a clinical type starts from. Types that happen at an encounter
// (Observation, Condition, Procedure, MedicationRequest, Specimen) take its day; the rest draw
// their own. `rng` continues the resource's stream for the writers.
struct ResourceBasics {
  Rng rng{0};
  int64_t day = 0;
  int64_t last_updated = 0;  // unix seconds
  uint64_t encounter = 0;    // k of the encounter, for types that reference one
};

inline ResourceBasics Basics(uint64_t seed, uint32_t scale, uint64_t index, int t, uint64_t k) {
  ResourceBasics b;
  b.rng.state = ResourceHash(seed, index, t, k);
  if (t == kEob || t == kEncounter) {
    const int64_t first = std::max(kEventsFirstDay, BirthDay(seed, index));
    b.day = first +
            static_cast<int64_t>(b.rng.Below(static_cast<uint64_t>(kEventsLastDay - first + 1)));
  } else {
    b.encounter = b.rng.Below(CountOf(seed, scale, index, kEncounter));
    b.day = EncounterDay(seed, index, b.encounter);
  }
  const int64_t updated_day =
      std::min(kEventsLastDay, b.day + static_cast<int64_t>(b.rng.Below(30)));
  b.last_updated = updated_day * 86400 + static_cast<int64_t>(b.rng.Below(86400));
  return b;
}

}  // namespace p2p::sandbox::synth
