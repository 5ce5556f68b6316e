// Readers of a bulk export's answers (DESIGN.md "Tolerant parsing"): the kick-off's poll URL,
// the status / manifest answer (Bulk Data v2 and 1up shapes, paged manifests) and the Expires
// header of a complete one. Pure functions over the bytes and headers, via simdjson's error-code
// API. Every string read is length-limited and every number range-checked; a wrong shape is
// kProtocol, non-JSON kParse. Error messages never quote the body (it may carry PHI).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace p2p::fhir {

// Kick-off answer (202): the poll URL from Content-Location if non-empty, else from
// "Track job at <url>" in an OperationOutcome issue's details.text or diagnostics. Returns the
// URL text as found (the caller resolves and checks the host). kProtocol when neither.
// The URL is the run of non-space characters after "Track job at " (any case), without trailing
// '.', ',' or ';'. URLs with control characters are kProtocol, over 4096 bytes kTooLarge.
Result<std::string> ReadKickoff(std::string_view content_location, std::string_view body);

struct OutputFile {
  std::string type;  // resource type
  std::string url;
  int64_t count = -1;  // -1 when absent
};

enum class ExportStatus { kRunning, kComplete, kFailed };

struct StatusInfo {
  ExportStatus status = ExportStatus::kRunning;
  std::string transaction_time;  // ISO instant as given ("" if absent)
  bool requires_access_token = true;
  std::vector<OutputFile> output;
  std::vector<OutputFile> error;    // OperationOutcome files
  std::vector<OutputFile> deleted;  // Bundles of deletions
  int progress_percent = -1;        // from X-Progress or batches, -1 unknown
  std::string failure;              // reason text when kFailed (server text: do not log)
  // Bulk Data paged manifests: the url of `link: [{"relation": "next", "url": ...}]` as given
  // ("" when there is no next page). Read from complete manifests only; the caller resolves it
  // and applies the same trust rules as to the status URL.
  std::string next_link;
};
// Reads a poll answer. `status_code` 202 -> kRunning (X-Progress read when it has a "%").
// 200: the standard manifest (output[] present -> kComplete) or the 1up shape ("status":
// running/in-progress -> kRunning, "Successful"/"completed" -> kComplete, "Failed"/"error" ->
// kFailed). 5xx / 4xx are for the caller. Limits: at most `max_files` entries per list
// (kTooLarge beyond), URLs up to 4096 bytes, types must be FHIR type names ([A-Z][A-Za-z]{1,63}).
// 1up values are matched ignoring case: running / in-progress / queued / pending; successful /
// completed / complete / done; failed / error / cancelled. With a "status" field the status wins
// over "output" (1up lists finished batches while running) and the file lists are read only when
// complete. progress_percent from "batches" complete/total. error[] / deleted[] entries may omit
// type (then "OperationOutcome" / "Bundle"); output entries may not. requiresAccessToken
// defaults to true. Any other status_code -> kHttpStatus "status answer: HTTP <code>".
Result<StatusInfo> ReadStatus(int status_code, std::string_view x_progress, std::string_view body,
                              size_t max_files = 10000);

// The `Expires` header of a complete status answer (an HTTP-date: IMF-fixdate, RFC 850 or
// asctime) as unix milliseconds; nullopt when absent or unreadable (then the files are taken as
// not expiring: an unreadable date must not make the job re-kick forever).
std::optional<int64_t> ReadExpires(std::string_view header);

}  // namespace p2p::fhir
