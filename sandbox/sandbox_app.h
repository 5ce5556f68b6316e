// The application side of p2p-sandbox: one parsed HTTP request in, one reply description out.
// Routing, OAuth client credentials, bearer checks, $member-match, export kick-off, job status,
// file lookup, the loopback-only admin endpoint, and the fault decisions — everything except
// sockets. The network layer (server.cpp) executes the reply: it waits `delay`, resets the
// connection, writes the body or streams the file, and cuts the body when told to.
//
// Paths (`$` literal or %24):
//   POST /auth/realms/dev-portal/protocol/openid-connect/token   (client secret or private_key_jwt)
//   GET  [/v1/{tenant}[/...]]/.well-known/smart-configuration   (SMART discovery)
//   GET  /v1/{tenant}[/bulk-data/r4]/metadata    (CapabilityStatement, capability_statement.h)
//   POST /v1/{tenant}/member-match-sandbox/$member-match | /v1/{tenant}/Patient/$member-match
//   GET  /v1/{tenant}/bulk-data/r4/Group/{groupId}/$export[?_type=..&_since=..&_typeFilter=..]
//   POST /v1/{tenant}/bulk-data/r4/Group/{groupId}/$davinci-data-export   (export_variants.h)
//   POST /v1/{tenant}/bulk-data/r4/Patient/$export                        (export_variants.h)
//   GET  /v1/{tenant}/bulk-data/r4/$export/job/{jobId}
//   DELETE /v1/{tenant}/bulk-data/r4/$export/job/{jobId}    (cancel: 202, then 404; both flavors)
//   GET  /v1/{tenant}/bulk-data/r4/$export/file/{Type}_{hash}.ndjson
//   GET  /admin/stats, GET|PUT|POST /admin/faults   (loopback peers only)
//
// Sources: sandbox_app.cpp routes, applies faults, checks bearer tokens and answers $member-match
// and /admin; token_routes.cpp is the OAuth token endpoint and SMART discovery; export_routes.cpp
// the bulk export kick-offs, job status, cancel and files; bulk_match_routes.cpp $bulk-member-match.
//
// Threading: Handle() is thread-safe (tables and counters have their own locks/atomics).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bulk_match.h"
#include "export_jobs.h"
#include "fault_spec.h"
#include "in_flight.h"
#include "jwt_verify.h"
#include "server_options.h"
#include "synth.h"
#include "token_table.h"

namespace p2p::sandbox {

struct AppRequest {
  std::string_view method;
  std::string_view target;           // raw request target (path + query)
  std::string_view authorization;
  std::string_view content_type;
  std::string_view accept_encoding;
  std::string_view body;
  bool from_loopback = false;
  std::string_view peer;             // the peer's IP address (block faults' client key fallback)
};

struct FileStreamSpec {
  uint64_t member = 0;
  size_t type_index = 0;
  std::optional<int64_t> since;
  bool gzip = false;
  bool bad_first_line = false;       // badjson fault: a line that is not JSON comes first
};

struct AppReply {
  Endpoint endpoint = Endpoint::kOther;
  int status = 200;
  std::string content_type = "application/fhir+json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<FileStreamSpec> file;  // stream an export file instead of `body`
  std::chrono::milliseconds delay{0};
  bool reset = false;                  // close the connection (RST) before any header
  bool cut = false;                    // send about half the body, then close
  std::string log_path;                // path without query, for the request log
  // A FHIR request of a known tenant: in flight until the reply is dropped (in_flight.h).
  InFlightTable::Ticket in_flight;
};

// Makes `reply` an error answer: `status` with an OperationOutcome of one error issue.
void Outcome(AppReply& reply, int status, std::string_view code, std::string_view diagnostics);

class SandboxApp {
 public:
  // `public_base` is the scheme://host:port of handed-out URLs (no trailing slash).
  SandboxApp(const ServerOptions& options, std::string public_base);

  AppReply Handle(const AppRequest& request);

  const Synth& synth() const { return synth_; }
  const ServerOptions& options() const { return options_; }
  FaultInjector& faults() { return faults_; }
  std::string StatsJson() const;
  // A request to `endpoint` is being answered (Handle() until its reply is written): counted in
  // /admin/stats "in_flight_peak", file downloads apart from the other payer API requests
  // (token, match, export, job). Every Began() is followed by one Ended().
  void Began(Endpoint endpoint);
  void Ended(Endpoint endpoint);

 private:
  void Token(const AppRequest& request, AppReply& reply, const FaultDecision& faults);
  void Match(const AppRequest& request, std::string_view tenant, AppReply& reply);
  // GET Group/{id}/$export, or a POST kick-off `route` (export_variants.h).
  void Export(const AppRequest& request, std::string_view tenant, std::string_view group,
              std::string_view query, AppReply& reply, bool fail, KickoffRoute route);
  // `query` may name a manifest page (`page=N`, --manifest-page-size).
  void Job(std::string_view tenant, std::string_view id, std::string_view query, AppReply& reply,
           bool fail);
  // $bulk-member-match kick-off and status (bulk_match.h; defined in bulk_match_routes.cpp).
  void BulkMatch(const AppRequest& request, std::string_view tenant, AppReply& reply);
  void BulkMatchStatus(std::string_view tenant, std::string_view id, AppReply& reply);
  void CancelJob(std::string_view tenant, std::string_view id, AppReply& reply);
  void File(const AppRequest& request, std::string_view tenant, std::string_view name,
            AppReply& reply);
  // GET $export/deleted/{jobId}.ndjson: the job's deleted[] file (lifecycle_data.h).
  void DeletedFile(std::string_view tenant, std::string_view name, AppReply& reply);
  void Admin(const AppRequest& request, std::string_view path, AppReply& reply);
  bool Authorized(const AppRequest& request, AppReply& reply) const;
  // Who sent `request`, for block faults: "client:<OAuth client id>" when its bearer token or
  // its token-request credentials name a known client, else "peer:<address>".
  std::string ClientKey(const AppRequest& request, Endpoint endpoint) const;
  // The 429 of a request refused by a block fault.
  void Refuse(const BlockRefusal& block, AppReply& reply);
  // private_key_jwt client authentication; the client id, or nullopt with the error in `reply`.
  std::optional<std::string> AssertedClient(const std::map<std::string, std::string>& form,
                                            AppReply& reply);
  void SmartConfiguration(AppReply& reply) const;
  std::string TokenUrl() const;
  bool KnownTenant(std::string_view tenant) const;

  ServerOptions options_;
  std::string public_base_;
  Synth synth_;
  FaultInjector faults_;
  TokenTable tokens_;
  AssertionVerifier assertions_;
  JobTable jobs_;
  LifecycleData lifecycle_;   // --updates-per-export, --deleted-files (lifecycle_data.h)
  GroupTable groups_;         // multi-member Groups: $bulk-member-match answers and --group
  BulkMatchJobs bulk_jobs_;
  std::array<std::atomic<uint64_t>, kEndpointCount> requests_{};
  // Export file requests with / without an Authorization header (/admin/stats).
  std::atomic<uint64_t> files_with_token_{0}, files_without_token_{0};
  std::array<std::atomic<uint64_t>, 3> kickoffs_{};  // accepted kick-offs by KickoffRoute
  InFlightTable in_flight_;  // FHIR requests in flight per tenant (/admin/stats, /admin/in-flight)
  // Requests being answered now and at most so far: [0] the API (token, match, export, job),
  // [1] files, [2] both.
  std::array<std::atomic<int64_t>, 3> answering_{}, in_flight_peak_{};
};

}  // namespace p2p::sandbox
