// Da Vinci PDex $bulk-member-match request (PDex STU 2.1 "PDex $multi-member-match request"):
// one MemberBundle parameter per member, whose parts are exactly the HRex $member-match
// parameters BuildMemberMatchBody (core/member.h) builds for that member: MemberPatient,
// CoverageToMatch, CoverageToLink (when the row has one) and Consent.
//
// To tell the members apart in the answer (fhir/bulk_match_reader.h), each MemberPatient gets the
// id `ref` and an identifier {system "urn:p2p-ingest:bulk-member", value `ref`}, and its
// Coverage/Consent references point at "Patient/<ref>". `ref` is opaque ("m<job id>"): no PHI.
// Pure; holds PHI in its output (the request body): never log it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/member.h"

namespace p2p {

// The member ref of a job: "m<job_id>".
std::string BulkMemberRef(int64_t job_id);

// `parties` name the payers in every member's Consent (core/consent.h).
// REQUIRES: every ref is a FHIR id ([A-Za-z0-9.-]{1,64}) and unique in `members`.
std::string BuildBulkMemberMatchBody(const std::vector<std::pair<std::string, MemberRow>>& members,
                                     const ConsentParties& parties = {});

}  // namespace p2p
