// SandboxApp's bulk export endpoints (contract in sandbox_app.h, export_jobs.h and
// export_variants.h): kick-off, job status / manifest, cancel, and the export files.
#include <algorithm>
#include <cctype>
#include <chrono>

#include "ndjson_stream.h"
#include "sandbox_app.h"
#include "text_util.h"

namespace p2p::sandbox {

void SandboxApp::Export(const AppRequest& request, std::string_view tenant, std::string_view group,
                        std::string_view query, AppReply& reply, bool fail, KickoffRoute route) {
  // The GET query or a POST's Parameters: _type, _since, _typeFilter, ... (export_variants.h).
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const KickoffParse kick = route == KickoffRoute::kGroupExport
                                ? ParseExportQuery(query)
                                : ParseExportParameters(request.body, route, now_s);
  if (kick.error) {
    return Outcome(reply, kick.error->status, kick.error->code, kick.error->diagnostics);
  }
  std::string patient_group;  // Patient/$export: the patient's own Group
  if (route == KickoffRoute::kPatient) {
    auto patient = FindMemberByPatientId(synth_, kick.params.patient);
    if (!patient) return Outcome(reply, 404, "not-found", "Unknown Patient");
    patient_group = synth_.GroupId(*patient);
    group = patient_group;
  }
  auto member = synth_.FindByGroupId(group);
  std::vector<uint64_t> members;  // a multi-member Group (bulk_match.h)
  if (!member) {
    auto known = groups_.Find(group);
    if (!known || known->empty()) return Outcome(reply, 404, "not-found", "Unknown Group");
    members = std::move(*known);
    member = members.front();
  }
  auto types = Synth::Types();
  const uint32_t mask = kick.params.types;
  const std::optional<int64_t> since = kick.params.since;
  ExportJob job;
  job.tenant = std::string(tenant);
  job.member = *member;
  job.since = since;
  job.request_url = public_base_ + std::string(request.target);
  job.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  job.started = std::chrono::steady_clock::now();
  job.failed = fail;
  for (size_t t = 0; t < kTypeCount && t < kick.params.type_since.size(); ++t) {
    job.type_since[t] = kick.params.type_since[t];
  }
  job.counts = CountResources(synth_, *member, mask, since, job.type_since);
  ++kickoffs_[static_cast<size_t>(route)];
  for (size_t i = 1; i < members.size(); ++i) {
    auto more = CountResources(synth_, members[i], mask, since);
    for (size_t t = 0; t < kTypeCount; ++t) job.counts[t] += more[t];
  }
  if (members.empty()) {  // --updates-per-export: records change between exports
    job.generation = lifecycle_.OnExport(*member, job.created_ms);
    const size_t obs = static_cast<size_t>(
        std::find(types.begin(), types.end(), "Observation") - types.begin());
    if (obs < kTypeCount && (mask & (1u << obs))) {
      job.counts[obs] += lifecycle_.ExtraCount(*member, "Observation", job.generation, since);
    }
  }
  job.members = std::move(members);
  job = jobs_.Create(std::move(job));
  std::string poll = public_base_ + "/v1/" + job.tenant + "/bulk-data/r4/$export/job/" + job.id;
  reply.status = 202;
  if (options_.flavor == Flavor::kBulkV2) {
    reply.headers.emplace_back("Content-Location", poll);
    reply.body = R"({"resourceType":"OperationOutcome","issue":[{"severity":"information",)"
                 R"("code":"informational","details":{"text":"Export job accepted"}}]})";
    return;
  }
  static constexpr char kAlnum[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string outcome_id;
  for (size_t i = 0, x = job.serial * 2654435761u + 12345; i < 10; ++i, x = x * 6364136223846793005ULL + 1442695040888963407ULL) {
    outcome_id.push_back(kAlnum[(x >> 33) % 36]);
  }
  reply.body = R"({"resourceType":"OperationOutcome","id":")" + outcome_id +
               R"(","issue":[{"severity":"information","code":"informational","details":{"text":)";
  AppendJsonString(reply.body, "Asynchronous export running. Track job at " + poll);
  reply.body += "}}]}";
}

void SandboxApp::Job(std::string_view tenant, std::string_view id, std::string_view query,
                     AppReply& reply, bool fail) {
  auto job = jobs_.Find(id);
  if (!job || job->tenant != tenant) return Outcome(reply, 404, "not-found", "Unknown export job");
  if (fail && !job->failed) {
    jobs_.MarkFailed(id);
    job->failed = true;
  }
  // Manifest variants: requiresAccessToken, error[] file, pages, Expires (export_variants.h).
  ManifestShape shape;
  shape.requires_token = options_.variants.requires_token;
  shape.error_lines = options_.variants.error_lines;
  shape.page_size = options_.variants.manifest_page_size;
  shape.file_expires = options_.variants.file_expires;
  if (auto params = ParseForm(query); params && params->count("page")) {
    const std::string& page = params->at("page");
    if (page.empty() || page.size() > 6 ||
        page.find_first_not_of("0123456789") != std::string::npos) {
      return Outcome(reply, 404, "not-found", "Unknown manifest page");
    }
    shape.page = static_cast<size_t>(std::stoul(page));
  }
  StatusAnswer answer = RenderStatus(*job, options_.flavor, options_.job_delay, public_base_,
                                     options_.synth.seed, std::chrono::steady_clock::now(), shape);
  if (!answer.expires.empty()) reply.headers.emplace_back("Expires", answer.expires);
  if (answer.complete && options_.lifecycle.deleted_files > 0 && job->members.empty() &&
      answer.body.size() > 1 && answer.body.back() == '}') {
    // --deleted-files: the manifest lists the job's deleted[] file (lifecycle_data.h).
    answer.body.pop_back();
    answer.body += R"(,"deleted":[{"type":"Bundle","url":)";
    AppendJsonString(answer.body,
                     public_base_ + "/v1/" + job->tenant + "/bulk-data/r4/$export/deleted/" +
                         job->id + ".ndjson");
    answer.body += "}]}";
  }
  reply.status = answer.status;
  reply.body = std::move(answer.body);
  if (options_.flavor == Flavor::kBulkV2) {
    reply.content_type = answer.status == 200 ? "application/json" : "application/fhir+json";
  }
  if (!answer.x_progress.empty()) reply.headers.emplace_back("X-Progress", answer.x_progress);
  if (answer.retry_after > 0) {
    reply.headers.emplace_back("Retry-After", std::to_string(answer.retry_after));
  }
}

// Bulk Data v2 "Delete a Bulk Data Request": 202 and the job is gone. 1up documents no cancel;
// assumed to behave the same (a client that never sends DELETE loses nothing).
void SandboxApp::CancelJob(std::string_view tenant, std::string_view id, AppReply& reply) {
  auto job = jobs_.Find(id);
  if (!job || job->tenant != tenant) return Outcome(reply, 404, "not-found", "Unknown export job");
  jobs_.Remove(id);
  reply.status = 202;
  reply.body = OperationOutcome("information", "informational", "Export job cancelled");
}

void SandboxApp::File(const AppRequest& request, std::string_view tenant, std::string_view name,
                      AppReply& reply) {
  auto ref = DecodeFileName(options_.synth.seed, name);
  std::optional<ExportJob> job;
  if (ref) job = jobs_.FindBySerial(ref->serial);
  // Whether a bearer token came with the file request (requiresAccessToken tests).
  ++(request.authorization.empty() ? files_without_token_ : files_with_token_);
  // The error[] file and expired files (export_variants.h).
  const bool error_file = ref && ref->type_index == kErrorFileIndex;
  bool ready = job && job->tenant == tenant && !job->failed &&
               (error_file ? options_.variants.error_lines > 0 : job->counts[ref->type_index] > 0) &&
               std::chrono::steady_clock::now() - job->started >= options_.job_delay;
  if (!ready) return Outcome(reply, 404, "not-found", "Unknown export file");
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  if (FilesExpired(*job, options_.job_delay, options_.variants.file_expires, now_ms)) {
    return Outcome(reply, 410, "deleted", "Export file expired");
  }
  reply.status = 200;
  reply.content_type = "application/fhir+ndjson";
  if (error_file) {
    reply.body = ErrorFileBody(job->id, options_.variants.error_lines);
    return;
  }
  if (!job->members.empty()) {  // a multi-member Group: built in memory (bulk_match.h)
    reply.body = GroupFileBody(synth_, job->members, Synth::Types()[ref->type_index], job->since);
    return;
  }
  if (std::string extra = lifecycle_.ExtraLines(job->member, Synth::Types()[ref->type_index],
                                                job->generation, job->since);
      !extra.empty()) {  // --updates-per-export: the base lines, then this export's changes
    NdjsonProducer base(synth_, job->member, Synth::Types()[ref->type_index], job->since);
    while (base.Fill(reply.body, reply.body.size() + (1 << 20))) {
    }
    reply.body += extra;
    return;
  }
  FileStreamSpec spec;
  spec.member = job->member;
  spec.type_index = ref->type_index;
  spec.since = EffectiveSince(*job, ref->type_index);  // _since and _typeFilter
  std::string ae(request.accept_encoding);
  std::transform(ae.begin(), ae.end(), ae.begin(), [](unsigned char c) { return std::tolower(c); });
  spec.gzip = ae.find("gzip") != std::string::npos && ae.find("gzip;q=0") == std::string::npos;
  reply.file = spec;
}

void SandboxApp::DeletedFile(std::string_view tenant, std::string_view name, AppReply& reply) {
  constexpr std::string_view kExt = ".ndjson";
  std::optional<ExportJob> job;
  if (name.size() > kExt.size() && name.substr(name.size() - kExt.size()) == kExt) {
    job = jobs_.Find(name.substr(0, name.size() - kExt.size()));
  }
  const bool ready = job && job->tenant == tenant && !job->failed && job->members.empty() &&
                     options_.lifecycle.deleted_files > 0 &&
                     std::chrono::steady_clock::now() - job->started >= options_.job_delay;
  if (!ready) return Outcome(reply, 404, "not-found", "Unknown export file");
  reply.status = 200;
  reply.content_type = "application/fhir+ndjson";
  reply.body = lifecycle_.DeletedFile(job->member);
}

}  // namespace p2p::sandbox
