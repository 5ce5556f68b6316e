// Spec for sandbox/synth.h: deterministic synthetic members and resources.
#include "synth.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <regex>
#include <set>
#include <string>
#include <string_view>

namespace p2p::sandbox {
namespace {

Synth Make(uint64_t seed, uint64_t members, uint32_t scale = 1) {
  return Synth(SynthOptions{.seed = seed, .members = members, .resource_scale = scale});
}

bool IsFhirId(std::string_view id) {
  static const std::regex kId("[A-Za-z0-9\\-.]{1,64}");
  return std::regex_match(id.begin(), id.end(), kId);
}

bool IsUuid(std::string_view id) {
  static const std::regex kUuid(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  return std::regex_match(id.begin(), id.end(), kUuid);
}

// "YYYY-MM-DDTHH:MM:SSZ" -> unix seconds, or -1.
int64_t ParseInstant(std::string_view s) {
  if (s.size() != 20 || s[10] != 'T' || s[19] != 'Z') return -1;
  std::tm tm{};
  const std::string text(s);
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

// Every resource line of member `index`, with its type and k.
template <typename F>
void ForEachResource(const Synth& synth, uint64_t index, F&& f) {
  for (std::string_view type : Synth::Types()) {
    const uint64_t n = synth.ResourceCount(index, type);
    for (uint64_t k = 0; k < n; ++k) {
      std::string line;
      synth.AppendResource(index, type, k, line);
      f(type, k, line);
    }
  }
}

TEST(Synth, MemberZeroIsTheSeedDocumentsMember) {
  for (uint64_t seed : {1u, 2u, 12345u}) {
    const SynthMember m = Make(seed, 10).Member(0);
    EXPECT_EQ(m.index, 0u);
    EXPECT_EQ(m.kind, MemberKind::kMatch);
    EXPECT_EQ(m.member_key, "M000000000");
    EXPECT_EQ(m.given, "Jay");
    EXPECT_EQ(m.family, "Young");
    EXPECT_EQ(m.birth_date, "2001-03-11");
    EXPECT_EQ(m.roster_birth_date, "2001-03-11");
    EXPECT_EQ(m.coverage_id, "17148123-47da-43a0-8401-8d5d1368db02");
    EXPECT_EQ(m.group_id, "cmk1cuald0005l701sdo7gs8c");
    EXPECT_EQ(m.consent_policy, "regular");
    EXPECT_EQ(m.consent_start, "2022-01-01");
    EXPECT_EQ(m.consent_end, "2035-01-31");
    EXPECT_FALSE(m.has_unsegmentable_sensitive_data);
  }
}

TEST(Synth, SameSeedGivesSameBytes) {
  const Synth a = Make(7, 100);
  const Synth b = Make(7, 100);
  for (uint64_t i = 0; i < 100; i += 9) {
    EXPECT_EQ(a.Member(i).given, b.Member(i).given);
    EXPECT_EQ(a.Member(i).coverage_id, b.Member(i).coverage_id);
    std::string la;
    std::string lb;
    ForEachResource(a, i, [&](std::string_view, uint64_t, const std::string& l) { la += l; });
    ForEachResource(b, i, [&](std::string_view, uint64_t, const std::string& l) { lb += l; });
    EXPECT_EQ(la, lb);
  }
}

TEST(Synth, DifferentSeedGivesDifferentData) {
  const Synth a = Make(7, 100);
  const Synth b = Make(8, 100);
  int same_group = 0;
  int same_patient_json = 0;
  for (uint64_t i = 1; i < 100; ++i) {
    same_group += a.Member(i).group_id == b.Member(i).group_id ? 1 : 0;
    std::string pa;
    std::string pb;
    a.AppendResource(i, "Patient", 0, pa);
    b.AppendResource(i, "Patient", 0, pb);
    same_patient_json += pa == pb ? 1 : 0;
  }
  EXPECT_EQ(same_group, 0);
  EXPECT_EQ(same_patient_json, 0);
}

TEST(Synth, MemberKeyIsMPlusNineDigits) {
  const Synth s = Make(1, 2000);
  EXPECT_EQ(s.Member(7).member_key, "M000000007");
  EXPECT_EQ(s.Member(1234).member_key, "M000001234");
}

TEST(Synth, LookupsRoundTripForManyIndices) {
  const Synth s = Make(3, 1000000);
  for (uint64_t i = 0; i < 1000000; i += 997) {
    const std::string group = s.GroupId(i);
    const SynthMember m = s.Member(i);
    EXPECT_EQ(group, m.group_id);
    EXPECT_TRUE(IsFhirId(group)) << group;
    EXPECT_EQ(group.size(), 25u);
    EXPECT_TRUE(IsUuid(m.coverage_id)) << m.coverage_id;
    EXPECT_EQ(s.FindByGroupId(group), i);
    EXPECT_EQ(s.FindByCoverageId(m.coverage_id), i);
  }
}

TEST(Synth, LookupsRejectGarbageAndNearMisses) {
  const Synth s = Make(3, 1000);
  for (std::string_view garbage :
       {"", "x", "cmk1cuald0005l701sdo7gs8", "cmk1cuald0005l701sdo7gs8cc",
        "17148123-47da-43a0-8401-8d5d1368db0", "not-a-group-id", "zzzzzzzzzzzzzzzzzzzzzzzzz",
        "c000000000000000000000000", "00000000-0000-4000-8000-000000000000"}) {
    EXPECT_EQ(s.FindByGroupId(garbage), std::nullopt) << garbage;
    EXPECT_EQ(s.FindByCoverageId(garbage), std::nullopt) << garbage;
  }
  // Every single-character change of a real id is rejected.
  for (uint64_t i : {0u, 1u, 500u, 999u}) {
    const SynthMember m = s.Member(i);
    for (const std::string& id : {m.group_id, m.coverage_id}) {
      for (size_t p = 0; p < id.size(); ++p) {
        for (char c : {'0', '7', 'a', 'f', 'z', 'A', '-'}) {
          if (id[p] == c) continue;
          std::string near = id;
          near[p] = c;
          EXPECT_EQ(s.FindByGroupId(near), std::nullopt) << near;
          EXPECT_EQ(s.FindByCoverageId(near), std::nullopt) << near;
        }
      }
    }
    std::string upper = m.coverage_id;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(s.FindByCoverageId(upper), std::nullopt);
  }
  // Ids of members beyond size(), and of another seed, are unknown.
  const Synth bigger = Make(3, 5000);
  EXPECT_EQ(s.FindByGroupId(bigger.GroupId(4000)), std::nullopt);
  EXPECT_EQ(s.FindByCoverageId(bigger.Member(4000).coverage_id), std::nullopt);
  const Synth other = Make(4, 1000);
  int found = 0;
  for (uint64_t i = 1; i < 1000; ++i) {
    found += s.FindByGroupId(other.GroupId(i)).has_value() ? 1 : 0;
    found += s.FindByCoverageId(other.Member(i).coverage_id).has_value() ? 1 : 0;
  }
  EXPECT_EQ(found, 0);
  // The group id and the coverage id are not interchangeable.
  EXPECT_EQ(s.FindByGroupId(s.Member(5).coverage_id), std::nullopt);
  EXPECT_EQ(s.FindByCoverageId(s.Member(5).group_id), std::nullopt);
}

TEST(Synth, KindProportionsOverTenThousandMembers) {
  const Synth s = Make(11, 10000);
  int no_match = 0;
  int refused = 0;
  for (uint64_t i = 0; i < 10000; ++i) {
    const MemberKind kind = s.Member(i).kind;
    no_match += kind == MemberKind::kNoMatch ? 1 : 0;
    refused += kind == MemberKind::kConsentRefused ? 1 : 0;
  }
  EXPECT_GE(no_match, 650);
  EXPECT_LE(no_match, 950);
  EXPECT_GE(refused, 380);
  EXPECT_LE(refused, 620);
}

TEST(Synth, KindsShowInTheRosterViewOnlyAsDocumented) {
  const Synth s = Make(5, 3000);
  int unsegmentable_matched = 0;
  for (uint64_t i = 0; i < 3000; ++i) {
    const SynthMember m = s.Member(i);
    switch (m.kind) {
      case MemberKind::kNoMatch:
        EXPECT_NE(m.roster_birth_date, m.birth_date) << m.member_key;
        EXPECT_LE(m.roster_birth_date, "2025-12-31") << m.member_key;
        EXPECT_FALSE(m.has_unsegmentable_sensitive_data);
        break;
      case MemberKind::kConsentRefused:
        EXPECT_EQ(m.roster_birth_date, m.birth_date);
        EXPECT_TRUE(m.has_unsegmentable_sensitive_data);
        EXPECT_EQ(m.consent_policy, "regular");
        break;
      case MemberKind::kMatch:
        EXPECT_EQ(m.roster_birth_date, m.birth_date);
        if (m.has_unsegmentable_sensitive_data) {
          EXPECT_EQ(m.consent_policy, "sensitive");
          ++unsegmentable_matched;
        }
        break;
    }
    // A refused consent looks like any other: in force, not ended.
    EXPECT_LE(m.consent_start, m.opt_in_date) << m.member_key;
    EXPECT_GE(m.consent_end, "2028-01-01") << m.member_key;
  }
  EXPECT_GT(unsegmentable_matched, 0);
}

TEST(Synth, RosterFieldsStayInTheirRanges) {
  const Synth s = Make(9, 5000);
  int with_new_coverage = 0;
  std::set<std::string> genders;
  for (uint64_t i = 1; i < 5000; ++i) {
    const SynthMember m = s.Member(i);
    EXPECT_GE(m.coverage_start, "2026-12-01");
    EXPECT_LE(m.coverage_start, "2027-01-31");
    EXPECT_GE(m.opt_in_date, "2026-11-11");
    EXPECT_LE(m.opt_in_date, "2027-02-20");
    EXPECT_EQ(m.consent_start.substr(0, 4), "2026");
    EXPECT_LE(m.consent_start, m.opt_in_date);
    EXPECT_GE(m.consent_end, "2028-01-01");
    EXPECT_LE(m.consent_end, "2032-12-31");
    EXPECT_TRUE(m.consent_policy == "regular" || m.consent_policy == "sensitive");
    EXPECT_FALSE(m.given.empty());
    EXPECT_FALSE(m.family.empty());
    EXPECT_EQ(m.patient_id, s.ResourceId(i, "Patient", 0));
    genders.insert(m.gender);
    with_new_coverage += m.new_coverage_id.empty() ? 0 : 1;
  }
  EXPECT_EQ(genders, (std::set<std::string>{"female", "male", "other", "unknown"}));
  EXPECT_GE(with_new_coverage, 3300);
  EXPECT_LE(with_new_coverage, 3700);
}

TEST(Synth, EveryResourceParsesWithItsIdLastUpdatedAndPatientReference) {
  const Synth s = Make(2, 60);
  simdjson::dom::parser parser;
  for (uint64_t i = 0; i < 60; ++i) {
    const std::string patient_ref = "Patient/" + s.Member(i).patient_id;
    ForEachResource(s, i, [&](std::string_view type, uint64_t k, const std::string& line) {
      SCOPED_TRACE(line);
      EXPECT_GE(line.size(), 500u);
      EXPECT_LE(line.size(), 2500u);
      simdjson::dom::element doc;
      ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS);
      std::string_view value;
      ASSERT_EQ(doc["resourceType"].get(value), simdjson::SUCCESS);
      EXPECT_EQ(value, type);
      ASSERT_EQ(doc["id"].get(value), simdjson::SUCCESS);
      EXPECT_EQ(value, s.ResourceId(i, type, k));
      ASSERT_EQ(doc["meta"]["lastUpdated"].get(value), simdjson::SUCCESS);
      EXPECT_EQ(ParseInstant(value), s.LastUpdated(i, type, k));
      EXPECT_GE(value, "2022-01-01");
      EXPECT_LT(value, "2027-01-01");
      if (type != "Patient") {
        EXPECT_NE(line.find("\"reference\":\"" + patient_ref + "\""), std::string::npos);
      }
    });
  }
}

TEST(Synth, CoverageAndEobReferToTheMembersCoverage) {
  const Synth s = Make(2, 20);
  const SynthMember m = s.Member(3);
  std::string coverage;
  s.AppendResource(3, "Coverage", 0, coverage);
  EXPECT_NE(coverage.find("\"value\":\"" + m.coverage_id + "\""), std::string::npos);
  std::string eob;
  s.AppendResource(3, "ExplanationOfBenefit", 0, eob);
  EXPECT_NE(eob.find("\"reference\":\"Coverage/" + s.ResourceId(3, "Coverage", 0) + "\""),
            std::string::npos);
  std::string patient;
  s.AppendResource(3, "Patient", 0, patient);
  EXPECT_NE(patient.find("\"family\":\"" + m.family + "\""), std::string::npos);
  EXPECT_NE(patient.find("\"birthDate\":\"" + m.birth_date + "\""), std::string::npos);
}

TEST(Synth, EobCarriesNoCostSharingOrPaymentAmounts) {
  const Synth s = Make(2, 100);
  for (uint64_t i = 0; i < 100; ++i) {
    for (uint64_t k = 0; k < s.ResourceCount(i, "ExplanationOfBenefit"); ++k) {
      std::string eob;
      s.AppendResource(i, "ExplanationOfBenefit", k, eob);
      for (std::string_view key : {"\"total\"", "\"payment\"", "\"adjudication\"", "\"net\"",
                                   "\"unitPrice\"", "\"amount\"", "\"benefitBalance\""}) {
        EXPECT_EQ(eob.find(key), std::string::npos) << key;
      }
    }
  }
}

TEST(Synth, ResourceIdsAreValidAndUniqueAcrossMembersAndTypes) {
  const Synth s = Make(4, 300);
  std::set<std::string> ids;
  uint64_t total = 0;
  for (uint64_t i = 0; i < 300; ++i) {
    for (std::string_view type : Synth::Types()) {
      for (uint64_t k = 0; k < s.ResourceCount(i, type); ++k) {
        const std::string id = s.ResourceId(i, type, k);
        EXPECT_TRUE(IsFhirId(id)) << id;
        ids.insert(id);
        ++total;
      }
    }
  }
  EXPECT_EQ(ids.size(), total);
}

TEST(Synth, CountsStayWithinTheirRanges) {
  const Synth s = Make(6, 2000);
  struct Range {
    std::string_view type;
    uint64_t min;
    uint64_t max;
  };
  for (const Range& r :
       {Range{"Patient", 1, 1}, Range{"Coverage", 1, 1}, Range{"ExplanationOfBenefit", 2, 20},
        Range{"Encounter", 1, 10}, Range{"Observation", 0, 15}, Range{"Condition", 0, 6},
        Range{"Procedure", 0, 5}, Range{"MedicationRequest", 0, 6}, Range{"Specimen", 0, 2}}) {
    uint64_t lo = UINT64_MAX;
    uint64_t hi = 0;
    for (uint64_t i = 0; i < 2000; ++i) {
      const uint64_t n = s.ResourceCount(i, r.type);
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    EXPECT_EQ(lo, r.min) << r.type;
    EXPECT_EQ(hi, r.max) << r.type;
  }
}

TEST(Synth, ResourceScaleMultipliesCountsWithDistinctIds) {
  const Synth one = Make(4, 10, 1);
  const Synth three = Make(4, 10, 3);
  for (std::string_view type : Synth::Types()) {
    const uint64_t base = one.ResourceCount(5, type);
    if (type == "Patient" || type == "Coverage") {
      EXPECT_EQ(three.ResourceCount(5, type), 1u);
      continue;
    }
    EXPECT_EQ(three.ResourceCount(5, type), 3 * base) << type;
    std::set<std::string> ids;
    std::set<std::string> lines;
    for (uint64_t k = 0; k < 3 * base; ++k) {
      ids.insert(three.ResourceId(5, type, k));
      std::string line;
      three.AppendResource(5, type, k, line);
      lines.insert(line);
    }
    EXPECT_EQ(ids.size(), 3 * base) << type;
    EXPECT_EQ(lines.size(), 3 * base) << type;
  }
}

TEST(Synth, ObservationsReferToOneOfTheMembersEncounters) {
  const Synth s = Make(4, 30, 2);
  for (uint64_t i = 0; i < 30; ++i) {
    const uint64_t encounters = s.ResourceCount(i, "Encounter");
    for (uint64_t k = 0; k < s.ResourceCount(i, "Observation"); ++k) {
      std::string line;
      s.AppendResource(i, "Observation", k, line);
      bool found = false;
      for (uint64_t e = 0; e < encounters && !found; ++e) {
        found =
            line.find("\"Encounter/" + s.ResourceId(i, "Encounter", e) + "\"") != std::string::npos;
      }
      EXPECT_TRUE(found) << line;
    }
  }
}

TEST(Synth, AppendResourceAppendsAndUnknownTypesYieldNothing) {
  const Synth s = Make(1, 5);
  std::string out = "prefix";
  s.AppendResource(1, "Patient", 0, out);
  EXPECT_EQ(out.rfind("prefix{\"resourceType\":\"Patient\"", 0), 0u);
  EXPECT_EQ(s.ResourceCount(1, "Claim"), 0u);
  EXPECT_EQ(s.ResourceId(1, "Claim", 0), "");
  std::string none;
  s.AppendResource(1, "Claim", 0, none);
  EXPECT_EQ(none, "");
  EXPECT_EQ(s.ResourceCount(5, "Patient"), 0u);  // beyond size()
}

TEST(Synth, MillionMembersNeedNoTables) {
  const Synth s = Make(1, 1000000);
  EXPECT_EQ(s.size(), 1000000u);
  const SynthMember m = s.Member(999999);
  EXPECT_EQ(m.member_key, "M000999999");
  EXPECT_EQ(s.FindByGroupId(m.group_id), 999999u);
  EXPECT_EQ(s.FindByCoverageId(m.coverage_id), 999999u);
  std::string line;
  s.AppendResource(999999, "ExplanationOfBenefit", 1, line);
  EXPECT_NE(line.find(m.patient_id), std::string::npos);
}

}  // namespace
}  // namespace p2p::sandbox
