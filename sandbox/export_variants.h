// The export variants of p2p-sandbox (the prior payer's side, written from the specs, not
// from the daemon's builders):
//   - kick-off: GET Group/{id}/$export with `_type`, `_since` and `_typeFilter` (repeated or
//     comma-joined); POST Group/{id}/$davinci-data-export (PDex STU 2.1: a Parameters with
//     exportType hl7.fhir.us.davinci-pdex#payertopayer, _since, _until, _type, _typeFilter);
//     POST Patient/$export (Bulk Data v2: a Parameters with `patient`). A wrong shape is a 400
//     OperationOutcome, as a real server answers.
//   - `_typeFilter`: the sandbox applies `Type?_lastUpdated=geINSTANT` (or gt) per type, the way
//     it applies `_since`; any other search is refused with 400 not-supported.
//   - manifests: an error[] file of N OperationOutcome lines (--error-files N),
//     requiresAccessToken false (--requires-token false: files served without a token),
//     pages linked by `link` next (--manifest-page-size N, bulk-v2), an Expires header on the
//     complete status with files 410 after it (--file-expires DUR);
//   - $member-match answering only the MemberIdentifier (--match-answer identifier-only).
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synth.h"

namespace p2p::sandbox {

struct VariantOptions {
  int error_lines = 0;            // --error-files N (0..1000): one error file of N lines per job
  bool requires_token = true;     // --requires-token true|false
  size_t manifest_page_size = 0;  // --manifest-page-size N: output files per page; 0 = one page
  // --file-expires DUR: the complete status says `Expires: <completion + DUR>` and its files
  // answer 410 from then on. nullopt: no Expires.
  std::optional<std::chrono::milliseconds> file_expires;
  bool match_identifier_only = false;  // --match-answer identifier-only (default: full)
};

enum class VariantFlag { kNotMine, kOk, kBad };
// Parses one of the flags above into `out`; kBad sets `*why` ("expected ...").
VariantFlag ParseVariantFlag(std::string_view flag, const std::string& value, VariantOptions* out,
                             std::string* why);

enum class KickoffRoute { kGroupExport, kDavinci, kPatient };
// Path segments (after the leading '/') of a POST kick-off: v1/{tenant}/bulk-data/r4/Group/{id}/
// $davinci-data-export or v1/{tenant}/bulk-data/r4/Patient/$export. kGroupExport otherwise.
KickoffRoute RouteKickoff(const std::vector<std::string_view>& segments);

struct KickoffParams {
  uint32_t types = 0;            // bit i = Synth::Types()[i]
  std::optional<int64_t> since;  // _since, unix s
  // Per type (Synth::Types() order), from _typeFilter Type?_lastUpdated=ge|gt<instant>.
  std::vector<std::optional<int64_t>> type_since;
  std::string patient;  // Patient/$export: the id of the `patient` reference
};
struct KickoffError {
  int status = 400;
  std::string code;
  std::string diagnostics;
};
struct KickoffParse {
  std::optional<KickoffError> error;
  KickoffParams params;
};

// The GET kick-off's query string.
KickoffParse ParseExportQuery(std::string_view query);
// The POST kick-off's Parameters body for `route` (kDavinci or kPatient); `now_s` bounds _until.
KickoffParse ParseExportParameters(std::string_view body, KickoffRoute route, int64_t now_s);

// The member whose Patient id is `id` (the MemberIdentifier value $member-match hands out).
std::optional<uint64_t> FindMemberByPatientId(const Synth& synth, std::string_view id);

// $member-match's 200 answer without a Group: only the MemberIdentifier (type MB, value = the
// member's Patient id), as a payer that exports by Patient answers.
std::string IdentifierOnlyMatchAnswer(const SynthMember& member, std::string_view tenant);

// The error[] file of a job: `lines` OperationOutcome lines; line i (0-based) is severity error /
// code processing when i is even, warning / not-found when odd. Diagnostics carry the marker
// "SANDBOX-DIAGNOSTIC" (tests check it never reaches the daemon's logs).
std::string ErrorFileBody(std::string_view job_id, int lines);
inline constexpr std::string_view kDiagnosticMarker = "SANDBOX-DIAGNOSTIC";

}  // namespace p2p::sandbox
