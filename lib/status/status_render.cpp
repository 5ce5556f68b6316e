#include "status/status_render.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "core/job_state.h"

#ifndef P2P_VERSION
#define P2P_VERSION "unknown"
#endif

namespace p2p {
namespace {

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char ch : s) {
    switch (ch) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        if (ch < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[ch >> 4]);
          out->push_back(kHex[ch & 0xf]);
        } else {
          out->push_back(static_cast<char>(ch));
        }
    }
  }
  out->push_back('"');
}

void AppendKey(std::string* out, std::string_view key) {
  AppendJsonString(out, key);
  out->push_back(':');
}

void AppendInt(std::string* out, int64_t v) { out->append(std::to_string(v)); }

// The process's resident set in bytes (second field of /proc/self/statm, in pages); -1 when
// unreadable. Lets an operator see that memory stays flat over a long run.
int64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return -1;
  char line[128];
  const bool read = std::fgets(line, sizeof line, f) != nullptr;
  (void)std::fclose(f);  // read-only: nothing to flush
  if (!read) return -1;
  // "size resident shared ...", in pages.
  const char* end = line + std::strlen(line);
  int64_t size = 0;
  int64_t resident = -1;
  auto r = std::from_chars(line, end, size);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ' ') return -1;
  r = std::from_chars(r.ptr + 1, end, resident);
  if (r.ec != std::errc() || resident < 0) return -1;
  return resident * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

std::string RenderStatusJson(const StatusSnapshot& snap, const StatusServerSettings& settings,
                             Metrics& metrics, std::chrono::steady_clock::time_point start) {
  std::string out;
  out.reserve(1024);
  int64_t total = 0;
  int64_t active = 0;
  int64_t in_flight = 0;
  for (int s = 0; s < kJobStateCount; ++s) {
    const int64_t n = snap.by_state[static_cast<size_t>(s)];
    total += n;
    if (!IsTerminal(static_cast<JobState>(s))) active += n;
    if (s >= static_cast<int>(JobState::kMatching) &&
        s <= static_cast<int>(JobState::kDownloading)) {
      in_flight += n;
    }
  }
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
  out.append("{");
  AppendKey(&out, "version");
  AppendJsonString(&out, P2P_VERSION);
  out.append(",");
  AppendKey(&out, "uptime_s");
  AppendInt(&out, uptime.count());
  out.append(",");
  AppendKey(&out, "now_ms");
  AppendInt(&out, snap.now_ms);
  out.append(",\"members\":{\"total\":");
  AppendInt(&out, total);
  out.append(",\"active\":");
  AppendInt(&out, active);
  out.append(",\"in_flight\":");
  AppendInt(&out, in_flight);
  out.append(",\"by_state\":{");
  for (int s = 0; s < kJobStateCount; ++s) {
    if (s > 0) out.push_back(',');
    AppendKey(&out, JobStateName(static_cast<JobState>(s)));
    AppendInt(&out, snap.by_state[static_cast<size_t>(s)]);
  }
  out.append("}},\"payers\":[");
  int64_t past = 0;
  int64_t near = 0;
  // Live payer conditions; payers without jobs are listed when throttled or refused.
  std::vector<PayerCondition> conditions;
  if (settings.payer_conditions) conditions = settings.payer_conditions();
  std::vector<StatusSnapshot::Payer> payers = snap.payers;
  for (const PayerCondition& c : conditions) {
    const bool listed =
        std::any_of(payers.begin(), payers.end(),
                    [&](const StatusSnapshot::Payer& p) { return p.payer == c.payer; });
    if (!listed && (c.auth_rejected || c.throttled_until_ms != 0)) {
      StatusSnapshot::Payer p;
      p.payer = c.payer;
      p.by_state.assign(kJobStateCount, 0);
      payers.push_back(std::move(p));
    }
  }
  for (size_t i = 0; i < payers.size(); ++i) {
    const auto& p = payers[i];
    if (i > 0) out.push_back(',');
    out.append("{\"payer\":");
    AppendJsonString(&out, p.payer);
    const PayerCondition* cond = nullptr;
    for (const PayerCondition& c : conditions) {
      if (c.payer == p.payer) cond = &c;
    }
    if (cond != nullptr) {
      out.append(",\"auth\":");
      AppendJsonString(&out, cond->auth_rejected ? "rejected" : "ok");
      if (cond->auth_rejected) {
        out.append(",\"auth_error\":");
        AppendJsonString(&out, cond->auth_error);
      }
      out.append(",\"throttled_until_ms\":");
      AppendInt(&out, cond->throttled_until_ms);
    }
    out.append(",\"active\":");
    AppendInt(&out, p.active);
    out.append(",\"by_state\":{");
    for (int st = 0; st < kJobStateCount; ++st) {
      if (st > 0) out.push_back(',');
      AppendKey(&out, JobStateName(static_cast<JobState>(st)));
      AppendInt(&out, p.by_state[static_cast<size_t>(st)]);
    }
    out.push_back('}');
    out.append(",\"deadline_past\":");
    AppendInt(&out, p.deadline_past);
    out.append(",\"deadline_near\":");
    AppendInt(&out, p.deadline_near);
    out.push_back('}');
    past += p.deadline_past;
    near += p.deadline_near;
  }
  out.append("],\"sla\":{\"deadline_past\":");
  AppendInt(&out, past);
  out.append(",\"deadline_near\":");
  AppendInt(&out, near);
  out.append(",\"near_window_s\":");
  AppendInt(&out, settings.sla_near_s);
  out.append(",\"capped\":");
  out.append(snap.capped ? "true" : "false");
  out.append("},\"deadlines\":{\"at_risk_within_s\":");
  AppendInt(&out, settings.deadline_at_risk_s);
  int64_t on_time = 0;
  int64_t late = 0;
  int64_t at_risk = 0;
  for (const auto& d : snap.deadlines) {
    on_time += d.on_time;
    late += d.late;
    at_risk += d.at_risk;
  }
  out.append(",\"on_time\":");
  AppendInt(&out, on_time);
  out.append(",\"late\":");
  AppendInt(&out, late);
  out.append(",\"at_risk\":");
  AppendInt(&out, at_risk);
  out.append(",\"payers\":[");
  for (size_t i = 0; i < snap.deadlines.size(); ++i) {
    const auto& d = snap.deadlines[i];
    if (i > 0) out.push_back(',');
    out.append("{\"payer\":");
    AppendJsonString(&out, d.payer);
    out.append(",\"on_time\":");
    AppendInt(&out, d.on_time);
    out.append(",\"late\":");
    AppendInt(&out, d.late);
    out.append(",\"at_risk\":");
    AppendInt(&out, d.at_risk);
    out.push_back('}');
  }
  out.append("]},\"errors\":[");
  for (size_t i = 0; i < snap.errors.size(); ++i) {
    const auto& e = snap.errors[i];
    if (i > 0) out.push_back(',');
    out.append("{\"class\":");
    AppendJsonString(&out, e.error_class);
    out.append(",\"last_at_ms\":");
    AppendInt(&out, e.last_at_ms);
    out.append(",\"count_window\":");
    AppendInt(&out, e.count_window);
    out.push_back('}');
  }
  out.append("],\"error_window_s\":");
  AppendInt(&out, settings.error_window_s);
  // The store's health as the downloads last saw it (live, not cached).
  out.append(",\"storage\":{\"state\":");
  std::string_view storage_state = "ok";
  double since = 0;
  for (std::string_view reason :
       {metric::kStorageDiskFull, metric::kStorageReadOnly, metric::kStorageUnreachable}) {
    const double v = metrics.GetGauge(metric::kStorageProblem, {{"reason", reason}}).value();
    if (v > 0) {
      storage_state = reason;
      since = v;
    }
  }
  AppendJsonString(&out, storage_state);
  if (since > 0) {
    out.append(",\"since_s\":");
    AppendInt(&out, static_cast<int64_t>(since));
    out.append(",\"downloads\":\"paused\"");
  }
  out.push_back('}');
  if (snap.cluster.on) {
    out.append(",\"cluster\":{\"instance\":");
    AppendJsonString(&out, snap.cluster.instance);
    out.append(",\"instances\":");
    AppendInt(&out, snap.cluster.instances);
    out.append(",\"leases\":");
    AppendInt(&out, snap.cluster.leases);
    out.push_back('}');
  }
  out.append("}\n");
  return out;
}

std::string RejectedPayers(const StatusServerSettings& settings) {
  std::string out;
  if (!settings.payer_conditions) return out;
  for (const PayerCondition& c : settings.payer_conditions()) {
    if (!c.auth_rejected) continue;
    if (!out.empty()) out.append("; ");
    out.append("payer " + c.payer + ": credentials rejected (" + c.auth_error + ")");
  }
  return out;
}

void UpdateScrapeGauges(const StatusServerSettings& settings, Metrics& metrics) {
  if (settings.payer_conditions) {
    const int64_t now = settings.now_ms();
    for (const PayerCondition& c : settings.payer_conditions()) {
      const int64_t left = std::max<int64_t>(0, c.throttled_until_ms - now);
      metrics.GetGauge(metric::kPayerThrottled, {{"payer", c.payer}})
          .Set(c.throttled_until_ms == 0 ? 0.0 : static_cast<double>(left) / 1000.0);
      metrics.GetGauge(metric::kPayerAuthRejected, {{"payer", c.payer}})
          .Set(c.auth_rejected ? 1.0 : 0.0);
    }
  }
  if (const int64_t rss = ResidentBytes(); rss >= 0) {
    metrics.GetGauge(metric::kResidentMemory).Set(static_cast<double>(rss));
  }
}

void StatusDbGauges::Update(const StatusSnapshot& snap) {
  for (int s = 0; s < kJobStateCount; ++s) {
    metrics_.GetGauge(metric::kMembers, {{"state", JobStateName(static_cast<JobState>(s))}})
        .Set(static_cast<double>(snap.by_state[static_cast<size_t>(s)]));
  }
  for (auto& [payer, gauge] : payer_gauges_) gauge->Set(0);  // a payer with no active jobs
  int64_t past = 0;
  int64_t near = 0;
  for (const auto& p : snap.payers) {
    auto it = payer_gauges_.find(p.payer);
    if (it == payer_gauges_.end()) {
      Gauge* g = &metrics_.GetGauge(metric::kMembersActive, {{"payer", p.payer}});
      it = payer_gauges_.emplace(p.payer, g).first;
    }
    it->second->Set(static_cast<double>(p.active));
    for (int st = 0; st < kJobStateCount; ++st) {
      metrics_
          .GetGauge(metric::kPayerMembers,
                    {{"payer", p.payer}, {"state", JobStateName(static_cast<JobState>(st))}})
          .Set(static_cast<double>(p.by_state[static_cast<size_t>(st)]));
    }
    past += p.deadline_past;
    near += p.deadline_near;
  }
  metrics_.GetGauge(metric::kDeadlinePast).Set(static_cast<double>(past));
  metrics_.GetGauge(metric::kDeadlineNear).Set(static_cast<double>(near));
  for (auto& [payer, gauges] : deadline_gauges_) {  // a payer with nothing left to report
    for (Gauge* g : gauges) g->Set(0);
  }
  for (const auto& d : snap.deadlines) {
    auto it = deadline_gauges_.find(d.payer);
    if (it == deadline_gauges_.end()) {
      std::array<Gauge*, 3> g{};
      const std::array<std::string_view, 3> kStatus = {"on_time", "late", "at_risk"};
      for (size_t i = 0; i < g.size(); ++i) {
        g[i] = &metrics_.GetGauge(metric::kDeadlineMembers,
                                  {{"payer", d.payer}, {"status", kStatus[i]}});
      }
      it = deadline_gauges_.emplace(d.payer, g).first;
    }
    it->second[0]->Set(static_cast<double>(d.on_time));
    it->second[1]->Set(static_cast<double>(d.late));
    it->second[2]->Set(static_cast<double>(d.at_risk));
  }
}

}  // namespace p2p
