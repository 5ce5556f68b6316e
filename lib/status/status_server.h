// StatusServer: the daemon's operator endpoint (DESIGN.md "Contracts", status.listen).
//
//   GET /healthz  200 "ok": the event loop is alive.
//   GET /readyz   200 "ready", or 503 "not ready: <reason>" when the state DB is read-only, the
//                 `ready` callback (source readable, ...) says no, or a payer's token endpoint
//                 rejects our credentials ("not ready: payer bison: credentials rejected
//                 (invalid_client)").
//   GET /status   200 JSON (shape below), 503 {"error":"state database unavailable"} on a DB error.
//   GET /metrics  200 Prometheus text (Metrics::RenderPrometheus plus the DB-derived gauges).
// Anything else: 404; a method other than GET: 405 with "Allow: GET"; a header block over
// header_limit: 431; a body over body_limit: 413; a malformed request: 400 (then the connection
// closes). When StatusOptions::token is set every endpoint requires "Authorization: Bearer
// <token>" (401 otherwise, compared in constant time); Start() refuses a non-loopback listen
// address without a token.
//
// /status JSON (no PHI: counts, payer ids, job states and error classes only):
//   {"version":"0.1.0","uptime_s":12,"now_ms":...,
//    "members":{"total":N,"active":N,"in_flight":N,"by_state":{"pending":N,...all 12 states}},
//    "payers":[{"payer":"bison","active":N,"deadline_past":N,"deadline_near":N,
//               "auth":"ok"|"rejected",["auth_error":"invalid_client",]
//               "throttled_until_ms":N (0 = not throttled)},...],
//    "sla":{"deadline_past":N,"deadline_near":N,"near_window_s":86400,"capped":false},
//    "deadlines":{"at_risk_within_s":172800,"on_time":N,"late":N,"at_risk":N,
//                 "payers":[{"payer":"bison","on_time":N,"late":N,"at_risk":N},...]},
//    "errors":[{"class":"http_503","last_at_ms":...,"count_window":N},...],
//    "error_window_s":86400,
//    "storage":{"state":"ok"} | {"state":"disk_full"|"read_only","since_s":...,"downloads":"paused"}}
// "active" = not terminal; "in_flight" = matching..downloading. SLA counts are members not yet
// requested ($member-match not sent) whose deadline is past / within near_window_s; each per-payer
// count stops at sla_count_cap ("capped": true then). Payers listed are those with active jobs,
// and any configured payer that is throttled or whose credentials are rejected.
// Errors: one entry per error class seen in the events table (at most 32, latest first).
// "deadlines" (state::DeadlineCounts): members requested ($member-match sent) within
// their CMS-0057-F deadline (on_time), after it or still waiting past it (late), and waiting with
// the deadline within at_risk_within_s (at_risk); exact (never capped), from counts kept by
// triggers. Payers with nothing to report are left out.
//
// Cost: the DB numbers are read at most once per cache_ttl, with prepared queries that use the
// schema's indexes (members_state, members_runnable, events_error; see Queries()) — no table scan,
// so /status stays fast with a million members.
//
// Files: status_server.cpp serves HTTP (listen address, accept, sessions, limits, the token check,
// routing, the snapshot cache); status_queries.h reads the snapshot from the state DB;
// status_render.h turns it into the /status JSON, the /readyz reason and the /metrics gauges.
//
// Threading: everything runs on `io`'s thread; call Start/Stop there. Ownership: `db`, `metrics`
// and `ready` are borrowed. REQUIRES: they outlive the server and, after Stop(), the io_context
// either runs until the server's pending handlers finished or is destroyed before them (the
// handlers then touch nothing but their own shared state).
#pragma once

// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/options.h"
#include "core/result.h"
#include "metrics/metrics.h"

namespace p2p {
namespace state {
class StateDb;
}

namespace metric {
// gauge {reason}: unix seconds since the store became full (reason "disk_full") or read-only
// ("read_only"); 0 when it is writable. Set by the pipeline's downloads, shown in /status.
inline constexpr std::string_view kStorageProblem = "p2p_storage_problem_since_seconds";
inline constexpr std::string_view kStorageDiskFull = "disk_full";
inline constexpr std::string_view kStorageReadOnly = "read_only";
inline constexpr std::string_view kStorageUnreachable = "unreachable";
}  // namespace metric

// One payer's condition as the pipeline sees it now (live, never cached).
struct PayerCondition {
  std::string payer;
  int64_t throttled_until_ms = 0;  // unix ms when a throttling payer is due again; 0 = not throttled
  bool auth_rejected = false;      // the token endpoint rejects our credentials
  std::string auth_error;          // its OAuth error code (never the secret)
};

struct StatusServerSettings {
  std::size_t header_limit = 8 * 1024;             // request line + headers, bytes (431 above)
  std::size_t body_limit = 1024;                   // request body, bytes (413 above)
  std::chrono::milliseconds read_timeout{10000};   // per request, from the first byte wait
  std::chrono::milliseconds write_timeout{10000};  // per response
  int max_connections = 64;                        // more are closed at once
  std::chrono::milliseconds cache_ttl{1000};       // DB-derived numbers are reused this long
  int64_t sla_near_s = 24 * 3600;                  // "deadline_near" window
  int64_t error_window_s = 24 * 3600;              // "count_window" of errors
  int64_t sla_count_cap = 10000;                   // per payer and SLA bucket
  int64_t deadline_at_risk_s = 48 * 3600;          // "deadlines" at_risk window (>= 0)
  std::function<int64_t()> now_ms;                 // unix ms; empty = the system clock
  // Every configured payer's condition; empty = none known. Shown in /status ("payers" entries:
  // "throttled_until_ms", "auth"), /readyz (503 while a payer's credentials are rejected) and
  // /metrics (p2p_payer_throttled_seconds, p2p_payer_auth_rejected).
  std::function<std::vector<PayerCondition>()> payer_conditions;
};

// The DB-derived part of /status (and of the DB gauges in /metrics).
struct StatusSnapshot {
  struct Payer {
    std::string payer;
    std::vector<int64_t> by_state;  // kJobStateCount entries
    int64_t active = 0;             // non-terminal jobs
    int64_t deadline_past = 0;
    int64_t deadline_near = 0;
  };
  struct ErrorClass {
    std::string error_class;
    int64_t last_at_ms = 0;
    int64_t count_window = 0;
  };
  int64_t now_ms = 0;
  std::vector<int64_t> by_state;  // kJobStateCount entries
  std::vector<Payer> payers;      // every payer with members, sorted by payer id
  bool capped = false;
  std::vector<ErrorClass> errors;  // latest first
  struct Deadlines {
    std::string payer;
    int64_t on_time = 0;
    int64_t late = 0;
    int64_t at_risk = 0;
  };
  std::vector<Deadlines> deadlines;  // payers with any, sorted by payer id
  // Daemons sharing a PostgreSQL state: the counts above are the cluster's; these are this
  // instance's.
  struct Cluster {
    bool on = false;       // state.kind: postgres
    std::string instance;  // this process: "<instance.id>/<pid>/<start ms>"
    int64_t instances = 1;  // live instances (heartbeat younger than their lease timeout)
    int64_t leases = 0;     // jobs leased to this instance
  };
  Cluster cluster;
};

class StatusServer {
 public:
  StatusServer(boost::asio::io_context& io, const StatusOptions& options, state::StateDb& db,
               Metrics& metrics, std::function<bool()> ready, StatusServerSettings settings = {});
  ~StatusServer();  // Stop()s
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Prepares the queries, binds and starts accepting. Returns the bound "HOST:PORT" (port 0 binds
  // an ephemeral port). Errors: kInvalid "status.listen: ..." for a malformed address or a
  // non-loopback one without a token; kIo "status.listen: HOST:PORT: <reason>" when binding
  // fails; the SQLite error when a query does not prepare. Not restartable after Stop().
  Result<std::string> Start();
  // Stops accepting and closes every open connection. Idempotent.
  void Stop();

  // Reads the DB numbers now (bypassing the cache). REQUIRES: Start() succeeded.
  Result<StatusSnapshot> ReadSnapshot();
  // The SQL of every query the server runs (for query-plan tests).
  static std::vector<std::string_view> Queries();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// True when `host` (an IP literal, optionally in brackets, or "localhost") is a loopback address.
bool IsLoopbackBindHost(std::string_view host);

}  // namespace p2p
