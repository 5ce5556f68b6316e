// SandboxApp's $bulk-member-match endpoints (contract in bulk_match.h): kick-off and status.
#include <chrono>

#include "bulk_match.h"
#include "sandbox_app.h"
#include "text_util.h"

namespace p2p::sandbox {

void SandboxApp::BulkMatch(const AppRequest& request, std::string_view tenant, AppReply& reply) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::string today =
      FormatDate(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  BulkMatchDecision d = DecideBulkMatch(request.body, synth_, tenant, today, options_.hrex);
  if (d.status != 200) {
    reply.status = d.status;
    reply.body = std::move(d.error_body);
    return;
  }
  std::vector<uint64_t> matched;
  for (const BulkVerdict& v : d.verdicts) {
    if (v.kind == BulkVerdict::kMatched) matched.push_back(*v.member);
  }
  const std::string group = groups_.Add(std::move(matched));
  std::string id = bulk_jobs_.Create(std::string(tenant), RenderBulkMatchAnswer(d, synth_, group),
                                     std::chrono::steady_clock::now());
  reply.status = 202;
  reply.headers.emplace_back("Content-Location",
                             public_base_ + "/v1/" + std::string(tenant) + "/bulk-match/job/" + id);
  reply.body = OperationOutcome("information", "informational", "$bulk-member-match accepted");
}

void SandboxApp::BulkMatchStatus(std::string_view tenant, std::string_view id, AppReply& reply) {
  auto job = bulk_jobs_.Find(id);
  if (!job || job->tenant != tenant) {
    reply.status = 404;
    reply.body = OperationOutcome("error", "not-found", "Unknown $bulk-member-match job");
    return;
  }
  const auto elapsed = std::chrono::steady_clock::now() - job->started;
  if (elapsed < options_.job_delay) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.job_delay - elapsed);
    reply.status = 202;
    reply.headers.emplace_back("X-Progress", "matching");
    reply.headers.emplace_back("Retry-After",
                               std::to_string(std::max<int64_t>(1, (left.count() + 999) / 1000)));
    reply.body.clear();
    return;
  }
  reply.status = 200;
  reply.body = job->answer;
}

}  // namespace p2p::sandbox
