// Export jobs of p2p-sandbox: the bounded in-memory job table, the file names that encode
// (job, type), and the status answers of both flavors.
//
// A job is created by the kick-off and never changes afterwards except to fail, or to go when the
// client cancels it (Bulk Data DELETE on its status URL: its status and files are 404). Its progress is
// a function of time: after `job_delay` all batches (one per type with at least one resource)
// are complete; before that a proportional share is. File names are `{Type}_{hash}.ndjson`
// where the 8-hex-digit hash is a reversible permutation of (job serial, type index), so a file
// URL decodes to its job without a second table. Jobs beyond `capacity` evict the oldest.
//
// Threading: JobTable is thread-safe (one mutex); RenderStatus is pure.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server_options.h"
#include "synth.h"

namespace p2p::sandbox {

inline constexpr size_t kTypeCount = 9;  // Synth::Types().size()

struct ExportJob {
  uint32_t serial = 0;
  std::string id;                    // UUID-shaped, unique per serial and seed
  std::string tenant;
  uint64_t member = 0;
  std::optional<int64_t> since;      // _since, seconds since the epoch
  std::string request_url;           // the kick-off URL as the client sent it (public base)
  int64_t created_ms = 0;            // wall clock, epoch ms (transactionTime)
  std::chrono::steady_clock::time_point started;
  bool failed = false;
  std::array<uint64_t, kTypeCount> counts{};  // resources per type after _type/_since (0: none)
  // A multi-member Group (bulk_match.h): every member's resources, counts summed; else empty.
  std::vector<uint64_t> members;
  uint32_t generation = 0;  // the member's n-th export, 0-based (lifecycle_data.h)
  // Per type: _typeFilter Type?_lastUpdated=ge.. (export_variants.h), on top of `since`.
  std::array<std::optional<int64_t>, kTypeCount> type_since{};
};

// The `since` that applies to one type of `job`: the later of _since and its _typeFilter.
std::optional<int64_t> EffectiveSince(const ExportJob& job, size_t type_index);
// CountResources with a per-type since (EffectiveSince of a job).
std::array<uint64_t, kTypeCount> CountResources(
    const Synth& synth, uint64_t member, uint32_t types, std::optional<int64_t> since,
    const std::array<std::optional<int64_t>, kTypeCount>& type_since);

// Counts the resources of `member` per type, honouring the requested types and `since`
// (a resource is exported when LastUpdated >= since). `types` bit i = Synth::Types()[i].
std::array<uint64_t, kTypeCount> CountResources(const Synth& synth, uint64_t member,
                                                uint32_t types, std::optional<int64_t> since);

// `{Type}_{hash}.ndjson` <-> (serial, type index). Decode returns nullopt for foreign names.
// Type index kErrorFileIndex names the job's error[] file, `OperationOutcome_{hash}.ndjson`.
inline constexpr size_t kErrorFileIndex = 15;
std::string FileName(uint64_t seed, uint32_t serial, size_t type_index);
struct FileRef {
  uint32_t serial = 0;
  size_t type_index = 0;
};
std::optional<FileRef> DecodeFileName(uint64_t seed, std::string_view name);

class JobTable {
 public:
  JobTable(uint64_t seed, size_t capacity) : seed_(seed), capacity_(capacity) {}

  // Assigns serial and id, stores the job and returns the stored copy.
  ExportJob Create(ExportJob job);
  std::optional<ExportJob> Find(std::string_view id) const;
  std::optional<ExportJob> FindBySerial(uint32_t serial) const;
  void MarkFailed(std::string_view id);
  // Forgets the job (client cancel); false when there is no such job.
  bool Remove(std::string_view id);
  uint64_t removed() const;

 private:
  mutable std::mutex mu_;
  uint64_t seed_;
  size_t capacity_;
  uint32_t next_serial_ = 1;
  uint64_t removed_ = 0;
  std::map<std::string, ExportJob, std::less<>> jobs_;
  std::map<uint32_t, std::string> by_serial_;
  std::deque<std::string> order_;
};

// The answer to a status poll at `now`.
struct StatusAnswer {
  int status = 200;
  std::string body;
  std::string x_progress;   // bulk-v2 while running
  int retry_after = 0;      // bulk-v2 while running (seconds, >= 1)
  bool complete = false;
  std::string expires;      // Expires header of a complete answer ("" = none)
};

// The export dialects' manifest variants (export_variants.h) for one status answer.
struct ManifestShape {
  bool requires_token = true;  // requiresAccessToken
  int error_lines = 0;         // > 0: an error[] file (kErrorFileIndex) is listed
  size_t page_size = 0;        // bulk-v2: output files per page, pages linked by `link` next
  size_t page = 0;             // the page asked for (`?page=N` on the status URL; 0 = first)
  std::optional<std::chrono::milliseconds> file_expires;  // Expires = completion + this
};
// A page past the last, or a page > 0 before the job is complete, is 404.
StatusAnswer RenderStatus(const ExportJob& job, Flavor flavor, std::chrono::milliseconds delay,
                          std::string_view public_base, uint64_t seed,
                          std::chrono::steady_clock::time_point now,
                          const ManifestShape& shape = {});

// True once a complete job's files have expired (--file-expires): completion (created_ms +
// delay) + file_expires <= `now_ms` (wall clock, epoch ms).
bool FilesExpired(const ExportJob& job, std::chrono::milliseconds delay,
                  std::optional<std::chrono::milliseconds> file_expires, int64_t now_ms);

}  // namespace p2p::sandbox
