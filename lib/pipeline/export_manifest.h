// Full Bulk Data manifests: what a complete status answer says beyond its
// file list. Pure helpers used by JobRunner (whose paging and error-file steps live in
// export_manifest.cpp):
//   - `Expires` on the complete status answer: recorded; once passed, no file is fetched and the
//     export is kicked off again (JobRunner::Download, re-kick class `expired`).
//   - `link: [{relation: next, url}]`: the next manifest page, fetched with the bearer token like
//     the status URL (so its host must be trusted), its files appended, one commit per page.
//   - error[] files: OperationOutcome lines, their issues recorded per job (state_db.h
//     ExportIssue), never stored as resources.
// Threading: pure functions; no state.
#pragma once

#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/url.h"
#include "fhir/export_status.h"
#include "pipeline/payer_client.h"
#include "state/state_db.h"

namespace p2p::pipeline {

// Most manifest pages one export may have (a server whose pages link in a circle ends here).
inline constexpr int64_t kMaxManifestPages = 10000;

// The ExportPage recorded with a manifest's first page: `pages` 1, Expires from the header
// (0 when absent or unreadable), and the next link resolved against `status_url`. Errors:
// kProtocol "manifest next link: ..." when it does not resolve, kUntrustedHost "manifest next
// link host H is not in trusted_hosts".
Result<state::ExportPage> FirstManifestPage(const fhir::StatusInfo& st,
                                            std::string_view expires_header, const Url& status_url,
                                            const PayerClient& payer);

// The next link of a further page `st` read from `page_url` ("" when it is the last), checked as
// above.
Result<std::string> NextManifestLink(const fhir::StatusInfo& st, const Url& page_url,
                                     const PayerClient& payer);

// `st`'s output, error and deleted files (in that order) as pending FileRows of `job_id`,
// numbered from `first_idx`, URLs resolved against `page_url`. When `requires_token` every
// host must be trusted (kUntrustedHost), else any host is fine (no token is sent to it).
Result<std::vector<state::FileRow>> ManifestFiles(int64_t job_id, const fhir::StatusInfo& st,
                                                  const Url& page_url, bool requires_token,
                                                  const PayerClient& payer, int first_idx);

}  // namespace p2p::pipeline
