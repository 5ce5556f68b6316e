#include "synth.h"

#include <array>

#include "synth_codec.h"
#include "synth_json.h"
#include "synth_member.h"
#include "synth_plan.h"

namespace p2p::sandbox {
namespace {

std::string DateString(int64_t days) {
  std::string s(synth::kDateLen, '0');
  synth::WriteDate(s.data(), days);
  return s;
}

// "M" + the index in at least 9 digits: M000000007.
std::string MemberKey(uint64_t index) {
  const std::string digits = std::to_string(index);
  std::string key = "M";
  if (digits.size() < 9) key.append(9 - digits.size(), '0');
  key += digits;
  return key;
}

}  // namespace

Synth::Synth(SynthOptions options) : options_(options) {
  if (options_.resource_scale == 0) options_.resource_scale = 1;
}

std::string Synth::GroupId(uint64_t index) const {
  std::string id(synth::kGroupIdLen, '0');
  synth::WriteGroupId(options_.seed, index, id.data());
  return id;
}

SynthMember Synth::Member(uint64_t index) const {
  const synth::MemberTraits t = synth::ComputeMemberTraits(options_.seed, index);
  SynthMember m;
  m.index = index;
  m.kind = t.kind;
  m.member_key = MemberKey(index);
  m.group_id = GroupId(index);
  m.patient_id = ResourceId(index, "Patient", 0);
  m.given = t.given1;
  if (!t.given2.empty()) {
    m.given += ' ';
    m.given += t.given2;
  }
  m.family = t.family;
  m.birth_date = DateString(t.birth_day);
  m.gender = t.gender;
  m.coverage_id.assign(synth::kCoverageIdLen, '0');
  synth::WriteCoverageId(options_.seed, index, m.coverage_id.data());
  m.roster_birth_date = DateString(t.roster_birth_day);
  if (t.has_new_coverage) m.new_coverage_id = "NP" + std::to_string(t.new_coverage_number);
  m.coverage_start = DateString(t.coverage_start);
  m.opt_in_date = DateString(t.opt_in);
  m.consent_start = DateString(t.consent_start);
  m.consent_end = DateString(t.consent_end);
  m.consent_policy = t.sensitive_policy ? "sensitive" : "regular";
  m.has_unsegmentable_sensitive_data = t.unsegmentable_sensitive_data;
  return m;
}

std::optional<uint64_t> Synth::FindByGroupId(std::string_view group_id) const {
  uint64_t index = 0;
  if (!synth::DecodeGroupIndex(options_.seed, group_id, index) || index >= size()) {
    return std::nullopt;
  }
  char canonical[synth::kGroupIdLen];
  synth::WriteGroupId(options_.seed, index, canonical);
  if (group_id != std::string_view(canonical, sizeof canonical)) return std::nullopt;
  return index;
}

std::optional<uint64_t> Synth::FindByCoverageId(std::string_view coverage_id) const {
  uint64_t index = 0;
  if (!synth::DecodeCoverageIndex(options_.seed, coverage_id, index) || index >= size()) {
    return std::nullopt;
  }
  char canonical[synth::kCoverageIdLen];
  synth::WriteCoverageId(options_.seed, index, canonical);
  if (coverage_id != std::string_view(canonical, sizeof canonical)) return std::nullopt;
  return index;
}

std::span<const std::string_view> Synth::Types() { return synth::kTypeNames; }

uint64_t Synth::ResourceCount(uint64_t index, std::string_view type) const {
  const int t = synth::FindType(type);
  if (t < 0 || index >= size()) return 0;
  return synth::CountOf(options_.seed, options_.resource_scale, index, t);
}

std::string Synth::ResourceId(uint64_t index, std::string_view type, uint64_t k) const {
  std::string id;
  AppendResourceId(index, type, k, id);
  return id;
}

void Synth::AppendResourceId(uint64_t index, std::string_view type, uint64_t k,
                             std::string& out) const {
  const int t = synth::FindType(type);
  if (t < 0) return;
  char buf[40];
  out.append(buf, synth::WriteResourceId(options_.seed, index, t, k, buf));
}

}  // namespace p2p::sandbox
