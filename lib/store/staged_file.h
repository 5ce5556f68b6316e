// The layout of one staged file of the NDJSON store (.staging/<job_id>/<file_index>.ndjson):
//
//   <the file's NDJSON lines: data_len bytes>
//   <its index lines (index_line.h), offsets relative to the file's first byte: index_len bytes>
//   #staged <Type> <data_len> <index_len>\n
//
// The footer is written last, by the writer's Commit(), and the file synced after it, so a file
// whose footer reads back and whose length adds up was committed whole; anything else is a file
// cut by a crash. Pure formatting and one read; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/index_line.h"

namespace p2p::store {

struct StagedFile {
  std::string type;
  int64_t data_len = 0;
  std::vector<IndexEntry> entries;  // start/end relative to the file's first byte
};

// The bytes that follow a staged file's data: `index_lines` and the footer.
std::string StagedTrailer(std::string_view type, int64_t data_len, std::string_view index_lines);

// Reads the trailer of the staged file `fd` (`path` for messages). kIo "<path>: incomplete
// staged file" when the footer is missing or does not add up, or an index line is malformed.
Result<StagedFile> ReadStagedFile(int fd, const std::string& path);

}  // namespace p2p::store
