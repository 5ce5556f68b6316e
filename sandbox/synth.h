// Deterministic synthetic prior-payer data for p2p-sandbox.
//
// Everything is a pure function of (seed, members, resource_scale): member i's demographics,
// coverage, group id and every resource line are computed on demand, so 1,000,000 members cost
// no memory and `p2p-sandbox roster` and the server always agree.
//
// Member 0 is always the seed document's member: Jay Young, born 2001-03-11, coverage identifier
// 17148123-47da-43a0-8401-8d5d1368db02, kind kMatch.
//
// Thread rule: a Synth is immutable after construction; all const methods are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace p2p::sandbox {

struct SynthOptions {
  uint64_t seed = 1;
  uint64_t members = 50;
  uint32_t resource_scale = 1;  // multiplies resources per member (distinct ids); 0 acts as 1
};

// What the roster row for a member leads to at the sandbox.
enum class MemberKind {
  kMatch,           // roster row matches; export yields the member's resources
  kNoMatch,         // roster row carries a changed birth date: $member-match answers 422
  kConsentRefused,  // roster row's consent is one the sandbox refuses: 422 (see
                    // SynthMember::has_unsegmentable_sensitive_data)
};

// One member as the prior payer knows it, plus the roster row the new payer will send.
struct SynthMember {
  uint64_t index = 0;
  MemberKind kind = MemberKind::kMatch;
  std::string member_key;  // new payer's opaque key (roster column member_key): "M000000123"
  std::string group_id;    // the Group id $member-match returns; a valid FHIR id
  std::string patient_id;  // the Patient resource id at the prior payer
  std::string given;       // space-separated given names (as the prior payer has them)
  std::string family;
  std::string birth_date;   // YYYY-MM-DD, as the prior payer has it
  std::string gender;       // male|female|other|unknown
  std::string coverage_id;  // CoverageToMatch identifier value

  // Roster (the new payer's view); differs from the above for kNoMatch / kConsentRefused.
  std::string roster_birth_date;
  std::string new_coverage_id;  // may be empty (CoverageToLink optional)
  std::string coverage_start;   // YYYY-MM-DD
  std::string opt_in_date;      // YYYY-MM-DD
  std::string consent_start;    // YYYY-MM-DD
  std::string consent_end;      // YYYY-MM-DD
  std::string consent_policy;   // regular | sensitive

  // The prior payer holds sensitive data for this member that it cannot segment, so it refuses a
  // Consent whose policy is #regular (and accepts #sensitive). True for every kConsentRefused
  // member (whose roster row says "regular") and for some kMatch members (whose row says
  // "sensitive"); the daemon cannot tell from the row. The server applies this rule after matching.
  bool has_unsegmentable_sensitive_data = false;
};

class Synth {
 public:
  explicit Synth(SynthOptions options);

  const SynthOptions& options() const { return options_; }
  uint64_t size() const { return options_.members; }

  // REQUIRES: index < size().
  SynthMember Member(uint64_t index) const;
  // The member's Group id alone (cheaper than Member()). REQUIRES: index < size().
  std::string GroupId(uint64_t index) const;

  // O(1) reverse lookups, no tables held in memory. nullopt when unknown.
  std::optional<uint64_t> FindByGroupId(std::string_view group_id) const;
  std::optional<uint64_t> FindByCoverageId(std::string_view coverage_id) const;

  // The resource types every export may carry, in a fixed order:
  // Patient, Coverage, ExplanationOfBenefit, Encounter, Observation, Condition, Procedure,
  // MedicationRequest, Specimen.
  static std::span<const std::string_view> Types();
  // For a type not in Types() (or an index >= size() in ResourceCount) the methods below give
  // 0 / "" / nothing.

  // How many resources of `type` member `index` has (already multiplied by resource_scale).
  // Patient and Coverage are always 1 (times nothing: scale does not duplicate them).
  uint64_t ResourceCount(uint64_t index, std::string_view type) const;

  // The id of the k-th resource (k < ResourceCount) of `type` for member `index`: a valid,
  // globally unique FHIR id.
  std::string ResourceId(uint64_t index, std::string_view type, uint64_t k) const;
  // Same id appended to `out` (no allocation beyond growing `out`); appends nothing for an
  // unknown type.
  void AppendResourceId(uint64_t index, std::string_view type, uint64_t k, std::string& out) const;

  // meta.lastUpdated of that resource as seconds since the epoch (the value AppendResource
  // writes), so the server can honour `_since` without generating the resource.
  int64_t LastUpdated(uint64_t index, std::string_view type, uint64_t k) const;

  // Appends the k-th resource of `type` for member `index` as one compact JSON object (no
  // newline) to `out`. Realistic US Core / CARIN BB shapes, references to the member's
  // Patient/Coverage, meta.lastUpdated, dates within five years; EOBs without cost-sharing or
  // payment amounts. No allocation beyond growing `out`.
  void AppendResource(uint64_t index, std::string_view type, uint64_t k, std::string& out) const;

 private:
  SynthOptions options_;
};

}  // namespace p2p::sandbox
