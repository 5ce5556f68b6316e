// One line of an NdjsonStore <Type>.index: the byte range a committed file occupies in
// <Type>.ndjson and where it came from. Text form, space-separated:
//   start end payer member_key tx_time job_id file_index [lines]
// `lines` (the number of NDJSON lines in [start, end)) is written by every commit and compaction
// now, so counting a type reads its index, not its data; older lines without it still
// parse (lines = -1) and their range is counted by reading it.
// Text fields are escaped so they hold no space or newline: bytes <= 0x20, 0x7f and '%' become
// %XX; an empty field is "-" and a field that is exactly "-" is "%2D".
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace p2p::store {

struct IndexEntry {
  int64_t start = 0, end = 0;
  std::string payer, member_key, tx_time;
  int64_t job_id = 0;
  int file_index = 0;
  int64_t lines = -1;  // -1: not recorded (an index written by an older version)
};

// The line for `e`, ending in '\n'.
std::string FormatIndexLine(const IndexEntry& e);
// Parses one line (without '\n'); nullopt if malformed.
std::optional<IndexEntry> ParseIndexLine(std::string_view line);

// Reads a whole <Type>.index ([0, end) of `fd`), sorted by start offset. kIo
// "<path>:<line>: malformed index line" for a line that does not parse.
Result<std::vector<IndexEntry>> ReadIndexFile(int fd, int64_t end, const std::string& path);

// Walks index ranges (sorted by start) alongside a sequential read of the .ndjson file.
class RangeCursor {
 public:
  explicit RangeCursor(const std::vector<IndexEntry>& entries) : e_(entries) {}
  // The entry covering `offset`, or nullptr; offsets must not decrease between calls.
  const IndexEntry* At(int64_t offset) {
    while (i_ < e_.size() && e_[i_].end <= offset) ++i_;
    if (i_ < e_.size() && e_[i_].start <= offset) return &e_[i_];
    return nullptr;
  }

 private:
  const std::vector<IndexEntry>& e_;
  size_t i_ = 0;
};

}  // namespace p2p::store
