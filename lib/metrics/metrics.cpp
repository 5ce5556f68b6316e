#include "metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace p2p {
namespace {

bool ValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char ch = name[i];
    const bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
    if (!alpha && !(i > 0 && ch >= '0' && ch <= '9')) return false;
  }
  return true;
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Prometheus sample values: integers as integers, +Inf/-Inf/NaN spelled out, else the shortest
// round-trip form.
void AppendDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[64];
  std::to_chars_result r;
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);
  }
  out->append(buf, r.ptr);
}

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void AppendEscapedHelp(std::string* out, std::string_view help) {
  for (char ch : help) {
    if (ch == '\\') {
      out->append("\\\\");
    } else if (ch == '\n') {
      out->append("\\n");
    } else {
      out->push_back(ch);
    }
  }
}

// `name{labels}` or `name{labels,extra}`; braces omitted when there are no labels at all.
void AppendSeriesName(std::string* out, std::string_view name, std::string_view suffix,
                      std::string_view labels, std::string_view extra) {
  out->append(name);
  out->append(suffix);
  if (labels.empty() && extra.empty()) return;
  out->push_back('{');
  out->append(labels);
  if (!labels.empty() && !extra.empty()) out->push_back(',');
  out->append(extra);
  out->push_back('}');
}

}  // namespace

void AppendEscapedLabelValue(std::string* out, std::string_view value) {
  for (char ch : value) {
    if (ch == '\\') {
      out->append("\\\\");
    } else if (ch == '"') {
      out->append("\\\"");
    } else if (ch == '\n') {
      out->append("\\n");
    } else {
      out->push_back(ch);
    }
  }
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // Bucket i counts bounds_[i-1] < v <= bounds_[i]; NaN lands in +Inf.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  counts_[static_cast<size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += bucket(i);
  return n;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> k = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,  5,     10,   30,  60};
  return k;
}

Metrics::Metrics() {
  using T = MetricType;
  Define(metric::kHttpRequests, T::kCounter,
         "HTTP requests to prior payers by payer, endpoint and status code (code=\"error\" when "
         "no answer arrived).");
  Define(metric::kHttpRetries, T::kCounter,
         "Requests retried after a retryable failure, by payer and endpoint.");
  Define(metric::kHttpDuration, T::kHistogram,
         "Seconds from sending a request to the end of its answer, by payer and endpoint.");
  Define(metric::kBytes, T::kCounter, "NDJSON bytes downloaded, by resource type.");
  Define(metric::kResourcesStored, T::kCounter, "Resources stored, by resource type.");
  Define(metric::kBadLines, T::kCounter, "NDJSON lines that failed the check, by resource type.");
  Define(metric::kDeadlineBreaches, T::kCounter,
         "Members first requested after their CMS-0057-F one-week deadline, by payer.");
  Define(metric::kPayerThrottled, T::kGauge,
         "Seconds until a throttling payer is due again (0 when it is not throttled), by payer.");
  Define(metric::kPayerAuthRejected, T::kGauge,
         "1 while the payer's token endpoint rejects our credentials, by payer.");
  Define(metric::kInstanceLeases, T::kGauge,
         "Member jobs leased to this instance of a cluster sharing a PostgreSQL job state.");
  Define(metric::kClusterInstances, T::kGauge,
         "Live instances sharing the job state (1 for a single daemon).");
  Define(metric::kLastSuccess, T::kGauge,
         "Unix time of the last member job that completed, by payer.");
  Define(metric::kJobsInFlight, T::kGauge,
         "Jobs of all payers in a step now (at most limits.max_jobs_in_flight).");
  Define(metric::kRequestsInFlight, T::kGauge,
         "Requests to prior payers in flight now, downloads included (at most "
         "limits.max_requests).");
  Define(metric::kDownloadsInFlight, T::kGauge,
         "Export files being downloaded now, all payers (at most limits.max_downloads).");
  Define(metric::kPayersWaiting, T::kGauge,
         "Payers with a runnable job waiting for a slot of limits.max_jobs_in_flight.");
  Define(metric::kMembers, T::kGauge, "Member jobs in the state database, by state.");
  Define(metric::kMembersActive, T::kGauge, "Non-terminal member jobs, by payer.");
  Define(metric::kPayerMembers, T::kGauge, "Member jobs in the state database, by payer and state.");
  Define(metric::kDeadlinePast, T::kGauge,
         "Active members not yet requested whose deadline has passed.");
  Define(metric::kDeadlineNear, T::kGauge,
         "Active members not yet requested whose deadline is within the warning window.");
  Define(metric::kDeadlineMembers, T::kGauge,
         "Members by CMS-0057-F request deadline and payer: on_time (requested within it), late "
         "(requested after it, or waiting past it), at_risk (waiting, deadline within "
         "deadline.at_risk_within).");
  Define(metric::kStartTime, T::kGauge, "Unix time the daemon started.");
  Define(metric::kResidentMemory, T::kGauge, "Resident memory size in bytes.");
  Define(metric::kBuildInfo, T::kGauge, "Always 1; the version label says which build runs.");
}

void Metrics::Define(std::string_view name, MetricType type, std::string_view help,
                     std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  DefineLocked(name, type, help, std::move(buckets));
}

void Metrics::DefineLocked(std::string_view name, MetricType type, std::string_view help,
                           std::vector<double> buckets) {
  if (families_.find(name) != families_.end()) return;
  Family f;
  f.type = type;
  f.help = std::string(help);
  if (type == MetricType::kHistogram) {
    if (buckets.empty()) buckets = LatencyBuckets();
    f.buckets = std::move(buckets);
    std::sort(f.buckets.begin(), f.buckets.end());
  }
  families_.emplace(std::string(name), std::move(f));
}

Metrics::Series* Metrics::FindOrAdd(std::string_view name, MetricType type,
                                    std::initializer_list<Label> labels) {
  auto fam = families_.find(name);
  if (fam == families_.end()) {
    DefineLocked(name, type, "", {});
    fam = families_.find(name);
  }
  Family& f = fam->second;
  if (f.type != type) return nullptr;

  // The key is built in a per-thread buffer so that finding an existing series never allocates
  // once the buffer has grown.
  thread_local std::string key;
  key.clear();
  for (const Label& l : labels) {
    if (!ValidLabelName(l.name)) return nullptr;
    if (!key.empty()) key.push_back(',');
    key.append(l.name);
    key.append("=\"");
    AppendEscapedLabelValue(&key, l.value.substr(0, kMaxLabelValueBytes));
    key.push_back('"');
  }
  if (auto it = f.series.find(std::string_view(key)); it != f.series.end()) return &it->second;
  if (f.series.size() >= kMaxSeriesPerFamily) return nullptr;

  Series s;
  switch (type) {
    case MetricType::kCounter:
      s.counter = std::make_unique<Counter>();
      break;
    case MetricType::kGauge:
      s.gauge = std::make_unique<Gauge>();
      break;
    case MetricType::kHistogram:
      s.histogram = std::make_unique<Histogram>(f.buckets);
      break;
  }
  return &f.series.emplace(key, std::move(s)).first->second;
}

Counter& Metrics::GetCounter(std::string_view name, std::initializer_list<Label> labels) {
  std::lock_guard lock(mu_);
  if (Series* s = FindOrAdd(name, MetricType::kCounter, labels)) return *s->counter;
  detached_.emplace_back().counter = std::make_unique<Counter>();
  return *detached_.back().counter;
}

Gauge& Metrics::GetGauge(std::string_view name, std::initializer_list<Label> labels) {
  std::lock_guard lock(mu_);
  if (Series* s = FindOrAdd(name, MetricType::kGauge, labels)) return *s->gauge;
  detached_.emplace_back().gauge = std::make_unique<Gauge>();
  return *detached_.back().gauge;
}

Histogram& Metrics::GetHistogram(std::string_view name, std::initializer_list<Label> labels) {
  std::lock_guard lock(mu_);
  if (Series* s = FindOrAdd(name, MetricType::kHistogram, labels)) return *s->histogram;
  detached_.emplace_back().histogram = std::make_unique<Histogram>(LatencyBuckets());
  return *detached_.back().histogram;
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  out.reserve(4096);
  std::string le;
  std::lock_guard lock(mu_);
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) {
      out.append("# HELP ").append(name).push_back(' ');
      AppendEscapedHelp(&out, f.help);
      out.push_back('\n');
    }
    out.append("# TYPE ").append(name).push_back(' ');
    out.append(TypeName(f.type)).push_back('\n');
    for (const auto& [labels, s] : f.series) {
      switch (f.type) {
        case MetricType::kCounter:
          AppendSeriesName(&out, name, "", labels, "");
          out.push_back(' ');
          AppendUint(&out, s.counter->value());
          out.push_back('\n');
          break;
        case MetricType::kGauge:
          AppendSeriesName(&out, name, "", labels, "");
          out.push_back(' ');
          AppendDouble(&out, s.gauge->value());
          out.push_back('\n');
          break;
        case MetricType::kHistogram: {
          const Histogram& h = *s.histogram;
          uint64_t cumulative = 0;
          for (size_t i = 0; i <= h.bounds().size(); ++i) {
            cumulative += h.bucket(i);
            le.assign("le=\"");
            if (i < h.bounds().size()) {
              AppendDouble(&le, h.bounds()[i]);
            } else {
              le.append("+Inf");
            }
            le.push_back('"');
            AppendSeriesName(&out, name, "_bucket", labels, le);
            out.push_back(' ');
            AppendUint(&out, cumulative);
            out.push_back('\n');
          }
          AppendSeriesName(&out, name, "_sum", labels, "");
          out.push_back(' ');
          AppendDouble(&out, h.sum());
          out.push_back('\n');
          AppendSeriesName(&out, name, "_count", labels, "");
          out.push_back(' ');
          AppendUint(&out, cumulative);
          out.push_back('\n');
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace p2p
