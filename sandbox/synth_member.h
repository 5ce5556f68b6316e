// A synthetic member's traits as plain values (string_views into the static tables, dates as
// days since the epoch), computed from (seed, index) alone. Synth::Member turns them into
// strings; the resource writers read them without allocating. Pure, thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "synth.h"
#include "synth_json.h"

namespace p2p::sandbox::synth {

// Clinical events happen over the five years before 2027-01-01.
inline constexpr int64_t kEventsFirstDay = DaysFromCivil(2022, 1, 1);
inline constexpr int64_t kEventsLastDay = DaysFromCivil(2026, 12, 31);

struct MemberTraits {
  MemberKind kind = MemberKind::kMatch;
  bool unsegmentable_sensitive_data = false;
  bool sensitive_policy = false;
  std::string_view gender;  // male|female|other|unknown
  std::string_view given1;
  std::string_view given2;  // empty when the member has one given name
  std::string_view family;
  int64_t birth_day = 0;
  int64_t roster_birth_day = 0;
  bool has_new_coverage = false;
  uint64_t new_coverage_number = 0;  // 10 digits
  int64_t coverage_start = 0;        // new payer's coverage start
  int64_t opt_in = 0;
  int64_t consent_start = 0;
  int64_t consent_end = 0;
  int64_t prior_coverage_start = 0;  // prior payer's coverage ends the day before coverage_start
  uint64_t member_number = 0;        // prior payer's member id, 9 digits
  uint32_t house_number = 0;
  uint32_t street = 0;
  uint32_t place = 0;
  uint32_t phone_suffix = 0;  // 7 digits
  uint32_t employer_group = 0;
  int64_t record_updated = 0;  // unix seconds; meta.lastUpdated of Patient and Coverage
};

MemberTraits ComputeMemberTraits(uint64_t seed, uint64_t index);

// Birth day alone (cheap): resource dates never precede it.
int64_t BirthDay(uint64_t seed, uint64_t index);

}  // namespace p2p::sandbox::synth
