#include "export_jobs.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "text_util.h"

namespace p2p::sandbox {
namespace {

constexpr uint32_t kOdd = 0x2c1b3c6dU;

constexpr uint32_t Inverse(uint32_t a) {
  uint32_t x = a;  // Newton's iteration: correct to 2^(3*2^k) bits
  for (int i = 0; i < 5; ++i) x *= 2 - a * x;
  return x;
}
static_assert(kOdd * Inverse(kOdd) == 1);

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint32_t Mask(uint64_t seed) { return static_cast<uint32_t>(SplitMix(seed ^ 0xf11e5ULL)); }

std::string JobId(uint64_t seed, uint32_t serial) {
  uint64_t a = SplitMix(seed * 31 + serial);
  uint64_t b = SplitMix(a ^ serial);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-a%03x-%012llx", uint32_t(a >> 32),
                unsigned(a >> 16) & 0xffff, unsigned(a) & 0xfff, unsigned(b >> 52) & 0xfff,
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string FileUrl(std::string_view base, const ExportJob& job, uint64_t seed, size_t type) {
  std::string url(base);
  url += "/v1/";
  url += job.tenant;
  url += "/bulk-data/r4/$export/file/";
  url += FileName(seed, job.serial, type);
  return url;
}

}  // namespace

std::optional<int64_t> EffectiveSince(const ExportJob& job, size_t type_index) {
  const std::optional<int64_t> typed =
      type_index < kTypeCount ? job.type_since[type_index] : std::nullopt;
  if (!typed) return job.since;
  if (!job.since) return typed;
  return std::max(*typed, *job.since);
}

std::array<uint64_t, kTypeCount> CountResources(const Synth& synth, uint64_t member,
                                                uint32_t types, std::optional<int64_t> since) {
  return CountResources(synth, member, types, since, {});
}

std::array<uint64_t, kTypeCount> CountResources(
    const Synth& synth, uint64_t member, uint32_t types, std::optional<int64_t> job_since,
    const std::array<std::optional<int64_t>, kTypeCount>& type_since) {
  std::array<uint64_t, kTypeCount> counts{};
  auto all = Synth::Types();
  for (size_t t = 0; t < kTypeCount && t < all.size(); ++t) {
    if (!(types & (1u << t))) continue;
    std::optional<int64_t> since = job_since;
    if (type_since[t]) since = since ? std::max(*since, *type_since[t]) : *type_since[t];
    uint64_t n = synth.ResourceCount(member, all[t]);
    if (!since) {
      counts[t] = n;
      continue;
    }
    for (uint64_t k = 0; k < n; ++k) {
      if (synth.LastUpdated(member, all[t], k) >= *since) ++counts[t];
    }
  }
  return counts;
}

std::string FileName(uint64_t seed, uint32_t serial, size_t type_index) {
  uint32_t x = (serial << 4) | static_cast<uint32_t>(type_index);
  x ^= Mask(seed);
  x *= kOdd;
  x ^= x >> 16;
  char hash[12];
  std::snprintf(hash, sizeof hash, "%08x", x);
  const std::string_view type =
      type_index == kErrorFileIndex ? std::string_view("OperationOutcome") : Synth::Types()[type_index];
  return std::string(type) + "_" + hash + ".ndjson";
}

std::optional<FileRef> DecodeFileName(uint64_t seed, std::string_view name) {
  constexpr std::string_view kExt = ".ndjson";
  if (!EndsWith(name, kExt)) return std::nullopt;
  name.remove_suffix(kExt.size());
  size_t underscore = name.rfind('_');
  if (underscore == std::string_view::npos || name.size() - underscore - 1 != 8) return std::nullopt;
  std::string_view type = name.substr(0, underscore);
  uint32_t x = 0;
  for (char c : name.substr(underscore + 1)) {
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) return std::nullopt;
    x = (x << 4) | static_cast<uint32_t>(v);
  }
  x ^= x >> 16;
  x *= Inverse(kOdd);
  x ^= Mask(seed);
  FileRef ref{x >> 4, x & 0xf};
  auto types = Synth::Types();
  if (ref.type_index == kErrorFileIndex && type == "OperationOutcome") return ref;
  if (ref.type_index >= types.size() || types[ref.type_index] != type) return std::nullopt;
  return ref;
}

ExportJob JobTable::Create(ExportJob job) {
  std::lock_guard lock(mu_);
  job.serial = next_serial_++;
  if (next_serial_ >= (1u << 28)) next_serial_ = 1;
  job.id = JobId(seed_, job.serial);
  if (auto old = by_serial_.find(job.serial); old != by_serial_.end()) jobs_.erase(old->second);
  while (order_.size() >= capacity_) {
    auto it = jobs_.find(order_.front());
    if (it != jobs_.end()) {
      by_serial_.erase(it->second.serial);
      jobs_.erase(it);
    }
    order_.pop_front();
  }
  order_.push_back(job.id);
  by_serial_[job.serial] = job.id;
  jobs_[job.id] = job;
  return job;
}

std::optional<ExportJob> JobTable::Find(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

std::optional<ExportJob> JobTable::FindBySerial(uint32_t serial) const {
  std::lock_guard lock(mu_);
  auto it = by_serial_.find(serial);
  if (it == by_serial_.end()) return std::nullopt;
  return jobs_.at(it->second);
}

void JobTable::MarkFailed(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it != jobs_.end()) it->second.failed = true;
}

bool JobTable::Remove(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  by_serial_.erase(it->second.serial);
  jobs_.erase(it);  // its entry in order_ is skipped when it comes up for eviction
  ++removed_;
  return true;
}

uint64_t JobTable::removed() const {
  std::lock_guard lock(mu_);
  return removed_;
}

bool FilesExpired(const ExportJob& job, std::chrono::milliseconds delay,
                  std::optional<std::chrono::milliseconds> file_expires, int64_t now_ms) {
  return file_expires && job.created_ms + delay.count() + file_expires->count() <= now_ms;
}

StatusAnswer RenderStatus(const ExportJob& job, Flavor flavor, std::chrono::milliseconds delay,
                          std::string_view public_base, uint64_t seed,
                          std::chrono::steady_clock::time_point now, const ManifestShape& shape) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  auto elapsed = duration_cast<milliseconds>(now - job.started);
  if (elapsed > delay) elapsed = delay;
  if (elapsed.count() < 0) elapsed = milliseconds(0);
  size_t total = 0;
  for (uint64_t c : job.counts) total += c > 0;
  size_t complete = delay.count() <= 0 || elapsed >= delay
                        ? total
                        : static_cast<size_t>(total * elapsed.count() / delay.count());
  bool done = elapsed >= delay;
  StatusAnswer answer;
  answer.complete = done && !job.failed;
  auto types = Synth::Types();
  if (shape.page > 0 && (!answer.complete || flavor != Flavor::kBulkV2)) {
    answer.status = 404;
    answer.body = OperationOutcome("error", "not-found", "Unknown manifest page");
    return answer;
  }
  if (answer.complete && shape.file_expires) {
    answer.expires =
        FormatHttpDate((job.created_ms + delay.count() + shape.file_expires->count()) / 1000);
  }
  const std::string token_flag =
      shape.requires_token ? R"("requiresAccessToken":true)" : R"("requiresAccessToken":false)";
  std::string error_list;  // the error[] entries of a complete job
  if (shape.error_lines > 0) {
    error_list = R"({"type":"OperationOutcome","url":)";
    AppendJsonString(error_list, FileUrl(public_base, job, seed, kErrorFileIndex));
    error_list += "}";
  }

  if (flavor == Flavor::kBulkV2) {
    if (job.failed) {
      answer.status = 500;
      answer.body = OperationOutcome("error", "exception", "Export job failed");
      return answer;
    }
    if (!done) {
      answer.status = 202;
      answer.x_progress = std::to_string(complete) + " of " + std::to_string(total) +
                          " batches complete";
      auto left = delay - elapsed;
      answer.retry_after = static_cast<int>(std::max<int64_t>(1, (left.count() + 999) / 1000));
      return answer;
    }
    std::string& out = answer.body;
    out = R"({"transactionTime":)";
    AppendJsonString(out, FormatInstant(job.created_ms));
    out += R"(,"request":)";
    AppendJsonString(out, job.request_url);
    out += ",";
    out += token_flag;
    out += R"(,"output":[)";
    std::vector<size_t> listed;
    for (size_t t = 0; t < kTypeCount; ++t) {
      if (job.counts[t] != 0) listed.push_back(t);
    }
    const size_t per_page = shape.page_size == 0 ? std::max<size_t>(1, listed.size()) : shape.page_size;
    const size_t pages = std::max<size_t>(1, (listed.size() + per_page - 1) / per_page);
    if (shape.page >= pages) {
      answer.status = 404;
      answer.body = OperationOutcome("error", "not-found", "Unknown manifest page");
      return answer;
    }
    const size_t from = shape.page * per_page;
    const size_t to = std::min(listed.size(), from + per_page);
    bool first = true;
    for (size_t i = from; i < to; ++i) {
      const size_t t = listed[i];
      if (!first) out += ',';
      first = false;
      out += R"({"type":)";
      AppendJsonString(out, types[t]);
      out += R"(,"url":)";
      AppendJsonString(out, FileUrl(public_base, job, seed, t));
      out += R"(,"count":)" + std::to_string(job.counts[t]) + "}";
    }
    out += R"(],"error":[)" + (shape.page == 0 ? error_list : std::string()) + "]";
    if (shape.page + 1 < pages) {
      out += R"(,"link":[{"relation":"next","url":)";
      AppendJsonString(out, std::string(public_base) + "/v1/" + job.tenant +
                                "/bulk-data/r4/$export/job/" + job.id + "?page=" +
                                std::to_string(shape.page + 1));
      out += "}]";
    }
    out += "}";
    return answer;
  }

  std::string& out = answer.body;
  out = R"({"id":)";
  AppendJsonString(out, job.id);
  out += R"(,"transactionTime":)";
  AppendJsonString(out, FormatInstant(job.created_ms));
  out += R"(,"request":)";
  AppendJsonString(out, job.request_url);
  out += ",";
  out += token_flag;
  out += R"(,"status":)";
  out += job.failed ? R"("Failed")" : done ? R"("Successful")" : R"("Running")";
  uint64_t resources = 0;
  std::string output;
  size_t listed = 0;
  for (size_t t = 0; t < kTypeCount && !job.failed; ++t) {
    if (job.counts[t] == 0) continue;
    if (listed == complete) break;
    ++listed;
    resources += job.counts[t];
    if (!output.empty()) output += ',';
    output += R"({"type":)";
    AppendJsonString(output, types[t]);
    output += R"(,"url":)";
    AppendJsonString(output, FileUrl(public_base, job, seed, t));
    output += '}';
  }
  size_t running = job.failed ? 0 : total - complete;
  size_t failed = job.failed ? total : 0;
  out += R"(,"resourceCount":)" + std::to_string(resources);
  out += R"(,"batches":{"running":)" + std::to_string(running) +
         R"(,"complete":)" + std::to_string(job.failed ? 0 : complete) +
         R"(,"failed":)" + std::to_string(failed) + R"(,"total":)" + std::to_string(total) + "}";
  out += R"(,"lastUpdated":)";
  AppendJsonString(out, FormatInstant(job.created_ms + elapsed.count()));
  out += R"(,"output":[)" + output + "]";
  if (answer.complete && !error_list.empty()) out += R"(,"error":[)" + error_list + "]";
  out += "}";
  return answer;
}

}  // namespace p2p::sandbox
