// Reader of the Da Vinci PDex $bulk-member-match answer (PDex STU 2.1, OperationDefinition
// BulkMemberMatch): a Parameters with up to three Group parameters, MatchedMembers,
// NonMatchedMembers and ConsentConstrainedMembers. Pure: bytes -> struct (simdjson error codes).
//
// Which submitted member is which: the spec's way. Each Group lists the submitted MemberPatient
// resources as contained Patients, and each Group.member has, on its entity, the extension
// http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-match-parameters whose
// valueReference points at the contained submitted Patient ("#<id>"); for MatchedMembers the
// entity's own reference is the prior payer's Patient ("Patient/<id>"). The request gives every
// MemberPatient a unique id and an identifier {system kBulkMemberSystem, value: the same id}
// (core/bulk_member_match.h), so a member's `member_ref` is that identifier's value on the
// contained Patient, else the contained Patient's id. Tolerated as well: no extension and an
// entity reference "#<id>" to the contained Patient (non-matched groups), a reference to a
// Patient "<id>" that is not contained (taken as the ref itself), an answer wrapped in a Bundle
// (FHIR asynchronous batch-response: the first Parameters entry), a missing Group parameter
// (no member in it).
//
// Errors: kParse (not JSON), kProtocol (not a Parameters; a Group without member refs we can
// read; a MatchedMembers with members but no valid Group id "matched Group has no FHIR id"),
// kTooLarge (more than `max_members` members). Messages never quote the body (PHI).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace p2p::fhir {

inline constexpr std::string_view kBulkMemberSystem = "urn:p2p-ingest:bulk-member";

enum class BulkMatchVerdict { kMatched, kNoMatch, kConsentRefused };

struct BulkMatchMember {
  std::string member_ref;  // the submitted MemberPatient's id / kBulkMemberSystem identifier
  BulkMatchVerdict verdict = BulkMatchVerdict::kNoMatch;
  std::string patient_id;  // kMatched: the prior payer's Patient id, "" when not given
};

struct BulkMatchAnswer {
  std::string matched_group_id;          // "" when no member matched
  std::vector<BulkMatchMember> members;  // in answer order; a ref may repeat (caller: first wins)
};

Result<BulkMatchAnswer> ReadBulkMemberMatch(std::string_view body, size_t max_members = 10000);

}  // namespace p2p::fhir
