#include "synth_member.h"

#include <algorithm>

#include "synth_codec.h"
#include "synth_tables.h"

namespace p2p::sandbox::synth {
namespace {

constexpr int64_t kSeedBirthDay = DaysFromCivil(2001, 3, 11);
constexpr int64_t kBirthFirst = DaysFromCivil(1938, 1, 1);
constexpr int64_t kBirthLast = DaysFromCivil(2025, 12, 31);

template <typename T>
const T& Pick(Rng& rng, std::span<const T> table) {
  return table[rng.Below(table.size())];
}

}  // namespace

int64_t BirthDay(uint64_t seed, uint64_t index) {
  if (index == 0) return kSeedBirthDay;
  const uint64_t span = static_cast<uint64_t>(kBirthLast - kBirthFirst + 1);
  return kBirthFirst + static_cast<int64_t>(Hash(Key(seed, kSaltBirth), index) % span);
}

MemberTraits ComputeMemberTraits(uint64_t seed, uint64_t index) {
  MemberTraits t;
  Rng rng{Hash(Key(seed, kSaltMember), index)};

  // Kind first, so the proportions depend on nothing else: ~8 % no match, ~5 % refused.
  const uint64_t roll = rng.Below(1000);
  t.kind = roll < 80    ? MemberKind::kNoMatch
           : roll < 130 ? MemberKind::kConsentRefused
                        : MemberKind::kMatch;

  const uint64_t g = rng.Below(100);
  t.gender = g < 48 ? "male" : g < 96 ? "female" : g < 98 ? "other" : "unknown";
  const bool male_names = t.gender == "male" || (g >= 96 && rng.Percent(50));
  const auto given = male_names ? MaleGivenNames() : FemaleGivenNames();
  t.given1 = Pick(rng, given);
  if (rng.Percent(20)) {
    t.given2 = Pick(rng, given);
    if (t.given2 == t.given1) t.given2 = {};
  }
  t.family = Pick(rng, FamilyNames());
  t.birth_day = BirthDay(seed, index);

  t.coverage_start = DaysFromCivil(2026, 12, 1) + static_cast<int64_t>(rng.Below(62));
  t.opt_in = t.coverage_start - 20 + static_cast<int64_t>(rng.Below(41));
  // Before every opt-in (the earliest is 2026-11-11), so the consent is in force at the exchange.
  t.consent_start = DaysFromCivil(2026, 1, 1) + static_cast<int64_t>(rng.Below(304));
  t.consent_end = DaysFromCivil(2028, 1, 1) + static_cast<int64_t>(rng.Below(5 * 365));
  t.has_new_coverage = rng.Percent(70);
  t.new_coverage_number = 1000000000 + rng.Below(9000000000);
  t.prior_coverage_start =
      std::max(t.birth_day, DaysFromCivil(2012, 1, 1) + static_cast<int64_t>(rng.Below(10 * 365)));
  t.member_number = 100000000 + rng.Below(900000000);
  t.house_number = static_cast<uint32_t>(1 + rng.Below(9899));
  t.street = static_cast<uint32_t>(rng.Below(Streets().size()));
  t.place = static_cast<uint32_t>(rng.Below(Places().size()));
  t.phone_suffix = static_cast<uint32_t>(5550000 + rng.Below(10000));
  t.employer_group = static_cast<uint32_t>(rng.Below(EmployerGroups().size()));
  const int64_t updated_day =
      std::max(t.prior_coverage_start, kEventsFirstDay) + static_cast<int64_t>(rng.Below(300));
  t.record_updated = updated_day * 86400 + static_cast<int64_t>(rng.Below(86400));

  // The refused rule is invisible in the row: the prior payer holds sensitive data it cannot
  // segment for this member, so it refuses a #regular consent. Some matched members hold such
  // data too but consented with #sensitive, which is accepted.
  const bool unsegmentable = rng.Percent(15);
  const bool sensitive = rng.Percent(25);
  switch (t.kind) {
    case MemberKind::kConsentRefused:
      t.unsegmentable_sensitive_data = true;
      t.sensitive_policy = false;
      break;
    case MemberKind::kMatch:
      t.unsegmentable_sensitive_data = unsegmentable;
      t.sensitive_policy = unsegmentable || sensitive;
      break;
    case MemberKind::kNoMatch:
      t.unsegmentable_sensitive_data = false;
      t.sensitive_policy = sensitive;
      break;
  }

  t.roster_birth_day = t.birth_day;
  if (t.kind == MemberKind::kNoMatch) {
    // A typo'd day or a wrong year; never a future date.
    int64_t delta = rng.Percent(50) ? 1 + static_cast<int64_t>(rng.Below(27))
                                    : 365 * (1 + static_cast<int64_t>(rng.Below(3)));
    if (t.birth_day > DaysFromCivil(2020, 1, 1) || rng.Percent(50)) delta = -delta;
    t.roster_birth_day = t.birth_day + delta;
  }

  if (index == 0) {  // the seed document's member
    t.kind = MemberKind::kMatch;
    t.unsegmentable_sensitive_data = false;
    t.sensitive_policy = false;
    t.gender = "male";
    t.given1 = "Jay";
    t.given2 = {};
    t.family = "Young";
    t.roster_birth_day = t.birth_day;
    t.consent_start = DaysFromCivil(2022, 1, 1);
    t.consent_end = DaysFromCivil(2035, 1, 31);
  }
  return t;
}

}  // namespace p2p::sandbox::synth
