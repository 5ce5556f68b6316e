// A reusable copy of one line followed by simdjson's zeroed padding: what simdjson needs to parse
// a view that does not end in SIMDJSON_PADDING readable bytes. It grows to the longest line seen
// (doubling from 4 KiB) and never shrinks, so in steady state Copy() does not allocate.
// Threading: one owner at a time.
#pragma once

#include <simdjson.h>

#include <cstring>
#include <memory>
#include <string_view>

namespace p2p::fhir {

class PaddedBuffer {
 public:
  // Copies `line` and pads it; the result is valid until the next Copy().
  const char* Copy(std::string_view line) {
    if (line.size() > cap_ || !buf_) {  // even an empty line: memcpy needs a buffer
      size_t want = cap_ == 0 ? 4096 : cap_;
      while (want < line.size()) want *= 2;
      buf_ = std::make_unique<char[]>(want + simdjson::SIMDJSON_PADDING);
      cap_ = want;
    }
    std::memcpy(buf_.get(), line.data(), line.size());
    std::memset(buf_.get() + line.size(), 0, simdjson::SIMDJSON_PADDING);
    return buf_.get();
  }

 private:
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;  // usable bytes in buf_, excluding SIMDJSON_PADDING
};

}  // namespace p2p::fhir
