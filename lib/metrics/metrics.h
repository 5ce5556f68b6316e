// Metrics: a small registry of counters, gauges and histograms that the pipeline increments and
// the status server renders in the Prometheus text exposition format (version 0.0.4).
//
// Hot path: resolve a series ONCE and keep the reference; Counter::Inc, Gauge::Set/Add and
// Histogram::Observe are lock-free atomics that never allocate:
//   Counter& ok = metrics.GetCounter(metric::kHttpRequests,
//                                    {{"payer", "bison"}, {"endpoint", "file"}, {"code", "200"}});
//   ok.Inc();
// Get* on an existing series does not allocate either (a per-thread scratch key), so a label
// value that is only known late (a status code) can be resolved per request.
//
// Ownership: the registry owns every metric; references stay valid for the registry's life.
// Threading: every method may be called from any thread. Get* and Render take a mutex; the
// increments are relaxed atomics (a render may see a histogram mid-update by one observation).
//
// Rules (REQUIRES, not checked at run time beyond what is said): metric names match
// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*. A series with an invalid label
// name, on a family of another type, or beyond kMaxSeriesPerFamily is "detached": it works but is
// never rendered. No PHI and no per-member labels (cardinality): label values are payer ids,
// endpoint names, status codes, resource types, job states.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace p2p {

// Names of the metrics the daemon defines (Metrics' constructor registers them with HELP text).
namespace metric {
// counter {payer, endpoint, code}: HTTP requests to prior payers. endpoint is one of token,
// member_match, export, poll, file; code is the HTTP status ("200") or "error" when no answer.
inline constexpr std::string_view kHttpRequests = "p2p_http_requests_total";
// counter {payer, endpoint}: requests retried after a retryable failure.
inline constexpr std::string_view kHttpRetries = "p2p_http_retries_total";
// histogram {payer, endpoint}: seconds from sending a request to its full answer.
inline constexpr std::string_view kHttpDuration = "p2p_http_request_duration_seconds";
// counter {type}: NDJSON bytes downloaded, by FHIR resource type.
inline constexpr std::string_view kBytes = "p2p_downloaded_bytes_total";
// counter {type}: resources stored, by FHIR resource type.
inline constexpr std::string_view kResourcesStored = "p2p_resources_stored_total";
// counter {type}: NDJSON lines that failed the check.
inline constexpr std::string_view kBadLines = "p2p_bad_lines_total";
// counter {payer}: members whose request (first $member-match) was sent after their deadline.
inline constexpr std::string_view kDeadlineBreaches = "p2p_deadline_breaches_total";
// gauge {payer}: seconds until a throttling payer (429, or 503 with Retry-After) is due again;
// 0 when it is not throttled. Refreshed at each scrape.
inline constexpr std::string_view kPayerThrottled = "p2p_payer_throttled_seconds";
// gauge {payer}: 1 while the payer's token endpoint rejects our credentials (invalid_client, ...).
inline constexpr std::string_view kPayerAuthRejected = "p2p_payer_auth_rejected";
// gauge: jobs leased to this instance (state.kind: postgres; 0 with SQLite).
inline constexpr std::string_view kInstanceLeases = "p2p_instance_leases";
// gauge: live instances sharing the job state (heartbeat younger than their lease timeout; 1
// with SQLite).
inline constexpr std::string_view kClusterInstances = "p2p_cluster_instances";
// gauge {payer}: unix seconds of the last job that reached complete.
inline constexpr std::string_view kLastSuccess = "p2p_last_success_timestamp_seconds";
// gauges (no labels) of the bounds over all payers (the top-level limits): jobs holding a slot of
// limits.max_jobs_in_flight, requests of limits.max_requests, files of limits.max_downloads, and
// payers waiting for a job slot (pipeline/admission.h).
inline constexpr std::string_view kJobsInFlight = "p2p_jobs_in_flight";
inline constexpr std::string_view kRequestsInFlight = "p2p_requests_in_flight";
inline constexpr std::string_view kDownloadsInFlight = "p2p_downloads_in_flight";
inline constexpr std::string_view kPayersWaiting = "p2p_payers_waiting_for_slot";
// gauges set by the status server from the state DB (cached ~1 s):
inline constexpr std::string_view kMembers = "p2p_members";                     // {state}
inline constexpr std::string_view kMembersActive = "p2p_members_active";        // {payer}
inline constexpr std::string_view kPayerMembers = "p2p_payer_members";          // {payer,state}
inline constexpr std::string_view kDeadlinePast = "p2p_members_deadline_past";  // no labels
inline constexpr std::string_view kDeadlineNear = "p2p_members_deadline_near";  // no labels
// gauge {payer, status}: CMS-0057-F request deadlines (state/state_db.h DeadlineCounts); status
// is on_time, late or at_risk.
inline constexpr std::string_view kDeadlineMembers = "p2p_deadline_members";
inline constexpr std::string_view kStartTime = "p2p_start_time_seconds";        // no labels
inline constexpr std::string_view kBuildInfo = "p2p_build_info";                // {version} = 1
// Prometheus' standard process metric (bytes), read from /proc at each scrape.
inline constexpr std::string_view kResidentMemory = "process_resident_memory_bytes";
}  // namespace metric

enum class MetricType { kCounter, kGauge, kHistogram };

struct Label {
  std::string_view name;
  std::string_view value;
};

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  // `bounds`: ascending upper bounds (the +Inf bucket is implicit); must outlive the histogram.
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations in bucket i (not cumulative); i == bounds().size() is the +Inf bucket.
  uint64_t bucket(std::size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const;

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Default histogram buckets for request latencies, in seconds.
const std::vector<double>& LatencyBuckets();

class Metrics {
 public:
  static constexpr std::size_t kMaxSeriesPerFamily = 1000;
  static constexpr std::size_t kMaxLabelValueBytes = 128;  // longer values are cut

  // Registers the metric:: catalog above.
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Declares a family; the first declaration of a name wins. `buckets` only for histograms
  // (empty = LatencyBuckets()). Get* on an undeclared name declares it without HELP.
  void Define(std::string_view name, MetricType type, std::string_view help,
              std::vector<double> buckets = {});

  Counter& GetCounter(std::string_view name, std::initializer_list<Label> labels = {});
  Gauge& GetGauge(std::string_view name, std::initializer_list<Label> labels = {});
  Histogram& GetHistogram(std::string_view name, std::initializer_list<Label> labels = {});

  // The whole registry in Prometheus text format: families sorted by name, each with its
  // # HELP (when known) and # TYPE lines, series sorted by their label text.
  std::string RenderPrometheus() const;

 private:
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    MetricType type = MetricType::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series, std::less<>> series;  // key: rendered labels `a="x",b="y"`
  };

  // REQUIRES: mu_ held. Returns nullptr when the series must be detached.
  Series* FindOrAdd(std::string_view name, MetricType type, std::initializer_list<Label> labels);
  void DefineLocked(std::string_view name, MetricType type, std::string_view help,
                    std::vector<double> buckets);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::deque<Series> detached_;
};

// Appends `value` with Prometheus label-value escaping (\\, \", \n).
void AppendEscapedLabelValue(std::string* out, std::string_view value);

}  // namespace p2p
