// libFuzzer target: ReadMemberMatch (200 answer to $member-match: Parameters with a groupId or a
// Group reference, HRex MemberIdentifier, a bare Group, {"groupId": ...}). Invariants checked: a
// successful answer has a group id or a member identifier, and a non-empty group id is a FHIR id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fhir/ndjson.h"
#include "fhir/member_match_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const p2p::Result<p2p::fhir::MemberMatchResult> mm = p2p::fhir::ReadMemberMatch(body);
  if (!mm.ok()) return 0;
  if (mm->group_id.empty() && mm->member_identifier.empty()) std::abort();
  if (!mm->group_id.empty() && !p2p::fhir::IsFhirId(mm->group_id)) std::abort();
  return 0;
}
