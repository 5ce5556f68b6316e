#include "logging/progress.h"

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

  const ProgressSample::Payer* slowest = nullptr;
  double slowest_rate = 0;
  for (const ProgressSample::Payer& p : now.payers) {
    if (p.active <= 0) continue;
    double rate = 0;
    if (dt_ms > 0) {
      for (const ProgressSample::Payer& before : prev.payers) {
        if (before.payer != p.payer) continue;
        const std::int64_t delta = p.finished > before.finished ? p.finished - before.finished : 0;
        rate = static_cast<double>(delta) * 60'000.0 / static_cast<double>(dt_ms);
        break;
      }
    }
    if (slowest == nullptr || rate < slowest_rate ||
        (rate == slowest_rate &&
         (p.active > slowest->active || (p.active == slowest->active && p.payer < slowest->payer)))) {
      slowest = &p;
      slowest_rate = rate;
    }
  }
  if (slowest != nullptr) {
    char rate[48];
    std::snprintf(rate, sizeof rate, " active, %.1f finished/min)", slowest_rate);
    out += "; slowest payer ";
    out += slowest->payer;
    out += " (";
    out += std::to_string(slowest->active);
    out += rate;
  }
  return out;
}

}  // namespace p2p
