// p2p-sandbox's member-lifecycle data, for the daemon's refresh and deleted[] tests:
//
//  * --updates-per-export K: the prior payer's records change between exports. Export number g
//    (g = 0, 1, ...) of the same member opens "generation" g at its kick-off time; every
//    generation g >= 1 adds K new Observations (ids "lc<member>g<g>n<j>", meta.lastUpdated = the
//    generation's time) and re-sends the member's first K Observations (same ids: re-versions).
//    An export includes a generation's resources when it has no _since or the generation's time
//    (seconds) is >= _since, so a refresh with _since = the previous transactionTime gets only
//    what changed since, and the union over exports is the roster's resources plus K new ones
//    per refresh. (The synthetic base resources are all older than any export.)
//  * --deleted-files N: every completed export lists one deleted[] file: one Bundle line whose
//    N entries DELETE the member's first N Observations ("Observation/<id>").
//
// Threading: thread-safe (the per-member export counter has its own mutex); the rest is pure.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "synth.h"

namespace p2p::sandbox {

struct LifecycleOptions {
  uint32_t updates_per_export = 0;  // --updates-per-export K (0: resources never change)
  uint32_t deleted_files = 0;       // --deleted-files N (0: no deleted[] files)
};

class LifecycleData {
 public:
  LifecycleData(const Synth& synth, LifecycleOptions options) : synth_(synth), options_(options) {}

  const LifecycleOptions& options() const { return options_; }

  // Records an export of `member` kicked off at `created_ms`; returns its generation (0 for
  // the member's first export).
  uint32_t OnExport(uint64_t member, int64_t created_ms);

  // Lines (each ending in '\n') an export of generation `generation` with `since` (seconds)
  // adds to `type`'s file, and their number. Empty unless --updates-per-export.
  std::string ExtraLines(uint64_t member, std::string_view type, uint32_t generation,
                         std::optional<int64_t> since) const;
  uint64_t ExtraCount(uint64_t member, std::string_view type, uint32_t generation,
                      std::optional<int64_t> since) const;
  // The ids of the new resources an export adds (tests).
  std::vector<std::string> NewIds(uint64_t member, uint32_t generation,
                                  std::optional<int64_t> since) const;

  // The deleted[] file of `member` (one Bundle line), or "" without --deleted-files.
  std::string DeletedFile(uint64_t member) const;
  // The ids the deleted file names ("Observation/<id>").
  std::vector<std::string> DeletedRefs(uint64_t member) const;

 private:
  // Generations 1..generation of `member` whose time is >= since (all without since).
  std::vector<uint32_t> Included(uint64_t member, uint32_t generation,
                                 std::optional<int64_t> since) const;

  const Synth& synth_;
  LifecycleOptions options_;
  mutable std::mutex mu_;
  std::map<uint64_t, std::vector<int64_t>> generations_;  // member -> kick-off ms per export
};

}  // namespace p2p::sandbox
