// Rendering for the status endpoint (StatusServer): the /status JSON document (its shape is in
// status_server.h) from a StatusSnapshot and the payers' live conditions, the /readyz reason
// for payers whose credentials are rejected, and the gauges /metrics shows: the DB-derived ones
// (StatusDbGauges, once per snapshot) and the live ones (UpdateScrapeGauges, once per scrape).
// No PHI: counts, payer ids, job states, error classes and OAuth error codes only.
//
// Ownership: StatusDbGauges borrows `metrics` (REQUIRES: it outlives the object) and keeps the
// gauges it resolved. Threading: the status server's thread (Metrics itself is thread-safe).
// Nothing here fails: a /proc/self/statm that cannot be read leaves the memory gauge as it was.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "metrics/metrics.h"
#include "status/status_server.h"

namespace p2p {

// The /status body (a JSON object and a newline): `snap` plus settings.payer_conditions() (read
// once), the store's health from the kStorageProblem gauges, and the uptime since `start`.
std::string RenderStatusJson(const StatusSnapshot& snap, const StatusServerSettings& settings,
                             Metrics& metrics, std::chrono::steady_clock::time_point start);

// "payer X: credentials rejected (code)" for each such payer, "; "-joined; "" when none (or when
// settings.payer_conditions is empty).
std::string RejectedPayers(const StatusServerSettings& settings);

// Per scrape: each payer's throttled seconds and rejected credentials (from
// settings.payer_conditions, at settings.now_ms()) and the process's resident memory.
void UpdateScrapeGauges(const StatusServerSettings& settings, Metrics& metrics);

// The gauges derived from a snapshot: members by state, active members per payer and by state,
// SLA deadline counts and CMS-0057-F deadline counts per payer. A payer that drops out of the
// snapshot keeps its series, set to 0.
class StatusDbGauges {
 public:
  explicit StatusDbGauges(Metrics& metrics) : metrics_(metrics) {}
  void Update(const StatusSnapshot& snap);

 private:
  Metrics& metrics_;
  std::map<std::string, Gauge*, std::less<>> payer_gauges_;
  // p2p_deadline_members{payer,status}: on_time, late, at_risk.
  std::map<std::string, std::array<Gauge*, 3>, std::less<>> deadline_gauges_;
};

}  // namespace p2p
