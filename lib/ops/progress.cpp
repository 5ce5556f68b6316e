#include "ops/progress.h"

#include <cmath>
#include <cstdio>
#include <string_view>

namespace p2p {
namespace {

constexpr JobState kActiveStates[] = {JobState::kMatching, JobState::kMatched, JobState::kExporting,
                                      JobState::kPolling, JobState::kDownloading};

bool IsActive(JobState s) {
  for (JobState a : kActiveStates) {
    if (a == s) return true;
  }
  return false;
}

std::int64_t Count(const ProgressSample& sample, JobState s) {
  return sample.by_state[static_cast<std::size_t>(s)];
}

void AppendCount(std::string& out, std::int64_t n, std::string_view what) {
  out += std::to_string(n);
  out += ' ';
  out += what;
}

}  // namespace

std::int64_t ActiveCount(const ProgressSample& sample) {
  std::int64_t active = 0;
  for (JobState s : kActiveStates) active += Count(sample, s);
  return active;
}

bool WorkInFlight(const ProgressSample& sample) {
  return ActiveCount(sample) + Count(sample, JobState::kPending) > 0;
}

std::string FormatProgress(const ProgressSample& prev, const ProgressSample& now) {
  std::string out = "progress: ";
  AppendCount(out, ActiveCount(now), "active");
  bool first = true;
  for (JobState s : kActiveStates) {
    if (Count(now, s) == 0) continue;
    out += first ? " (" : ", ";
    first = false;
    AppendCount(out, Count(now, s), JobStateName(s));
  }
  if (!first) out += ')';
  for (int i = 0; i < kJobStateCount; ++i) {
    const auto s = static_cast<JobState>(i);
    if (IsActive(s) || Count(now, s) == 0) continue;
    out += ", ";
    AppendCount(out, Count(now, s), JobStateName(s));
  }

  const std::int64_t dt_ms = now.at_ms - prev.at_ms;
  if (dt_ms > 0) {
    const auto per_second = [dt_ms](std::int64_t before, std::int64_t after) {
      const std::int64_t delta = after > before ? after - before : 0;
      return static_cast<double>(delta) * 1000.0 / static_cast<double>(dt_ms);
    };
    char rates[96];
    std::snprintf(rates, sizeof rates, "; %lld resources/s, %.1f MB/s",
                  static_cast<long long>(
                      std::llround(per_second(prev.resources_stored, now.resources_stored))),
                  per_second(prev.bytes_downloaded, now.bytes_downloaded) / 1e6);
    out += rates;
  }

  const std::pair<std::string, std::int64_t>* busiest = nullptr;
  for (const auto& entry : now.active_by_payer) {
    if (entry.second <= 0) continue;
    if (busiest == nullptr || entry.second > busiest->second ||
        (entry.second == busiest->second && entry.first < busiest->first)) {
      busiest = &entry;
    }
  }
  if (busiest != nullptr) {
    out += "; busiest payer ";
    out += busiest->first;
    out += " (";
    AppendCount(out, busiest->second, "active)");
  }
  return out;
}

}  // namespace p2p
