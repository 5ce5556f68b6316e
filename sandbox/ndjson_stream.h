// Streaming bodies for export files: NdjsonProducer generates one member's resources of one
// type line by line from Synth (honouring _since), and GzipEncoder compresses a stream with
// zlib when the client asked for gzip. Both reuse the caller's buffers, so a multi-gigabyte
// file costs a fixed amount of memory. Not thread-safe: one per response.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "synth.h"

namespace p2p::sandbox {

class NdjsonProducer {
 public:
  NdjsonProducer(const Synth& synth, uint64_t member, std::string_view type,
                 std::optional<int64_t> since);

  // Appends whole lines ("{...}\n") to `out` until out.size() >= `target` or the resources
  // run out. Returns false once every line has been appended (nothing appended then).
  bool Fill(std::string& out, size_t target);

 private:
  const Synth& synth_;
  uint64_t member_;
  std::string_view type_;
  std::optional<int64_t> since_;
  uint64_t next_ = 0;
  uint64_t count_;
};

class GzipEncoder {
 public:
  GzipEncoder();
  ~GzipEncoder();
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  // Compresses `in` and appends to `out` (cleared first); `finish` writes the trailer.
  void Encode(std::string_view in, bool finish, std::string& out);

 private:
  z_stream z_{};
};

}  // namespace p2p::sandbox
