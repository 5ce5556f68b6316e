// The sandbox's $member-match decision (Da Vinci HRex): request body -> HTTP answer.
//
// Accepts the seed's body as printed (MemberPatient / CoverageToMatch without resourceType)
// and a full HRex Parameters. Checks, in this order:
//   400 invalid   malformed JSON, not a Parameters, not exactly one MemberPatient,
//                 CoverageToMatch and Consent (CoverageToLink optional), a parameter without
//                 its resource, MemberPatient without name/birthDate, CoverageToMatch without an
//                 identifier value;
//   422 invalid | required | value | structure  (--hrex 1.1 only) the Consent does not conform
//                 to HRex STU 1.1 hrex-consent (hrex_consent.h), one issue per broken rule;
//   422 business-rule  consent not acceptable (status, policy, provision type, period, or a
//                 member whose data cannot be segmented asked with a #regular policy);
//   422 processing     no member matches / several members match.
// Matching: family (case-insensitive) + given (all given names space-joined, or the first
// given name) + birthDate + a CoverageToMatch identifier value known to Synth.
// 200: Parameters with `MemberIdentifier` (valueIdentifier, type MB, value = the prior payer's
// Patient id) and `groupId` (valueString). That shape is our assumption (1up does not publish
// it); see sandbox/README.md.
// Diagnostics never contain the request's demographics. Pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "hrex_consent.h"
#include "synth.h"

namespace p2p::sandbox {

struct MatchAnswer {
  int status = 200;
  std::string body;                  // application/fhir+json
  std::optional<uint64_t> member;    // the matched member on 200
};

// `today` is "YYYY-MM-DD" (UTC), the day the consent period must cover. `mode` kStrict11 adds
// the hrex-consent checks (after the 400 checks, before the business rules).
MatchAnswer MemberMatch(std::string_view body, const Synth& synth, std::string_view tenant,
                        std::string_view today, HrexMode mode = HrexMode::kLenient);

}  // namespace p2p::sandbox
