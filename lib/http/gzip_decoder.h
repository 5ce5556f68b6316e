// Streaming gzip (RFC 1952) decoder for HTTP bodies with Content-Encoding: gzip.
//
// Ownership: the decoder owns the zlib state; output goes into a caller-owned buffer that is
// reused for every call, so decoding allocates nothing per chunk. Concatenated gzip members are
// decoded one after the other.
// Threading: one decoder per body; not thread-safe.
// Errors: corrupt data -> kProtocol "gzip: <zlib message>"; Finish() before the end of the last
// member -> kProtocol "gzip: body ends inside the compressed stream"; a body that expands past
// GzipLimits (a "gzip bomb") -> kTooLarge "gzip: expands beyond <n> bytes" or "gzip: expands
// more than <r> times its compressed size", before the offending piece reaches `out`; errors
// returned by `out` are passed through unchanged.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "core/result.h"

namespace p2p::http {

// How far one body may expand. Deflate tops out near 1032:1; FHIR NDJSON (ids, dates, codes)
// compresses about 5..30:1, so a body far past max_ratio is a bomb, not data.
struct GzipLimits {
  // Decoded bytes per body (default 64 GiB).
  uint64_t max_output_bytes = uint64_t{64} << 30;
  // Decoded / compressed bytes (default 250; 0 = unchecked), checked once the output has passed
  // ratio_floor_bytes (default 1 MiB) so that small, very repetitive bodies are not refused.
  uint64_t max_ratio = 250;
  uint64_t ratio_floor_bytes = 1 << 20;
};

class GzipDecoder {
 public:
  explicit GzipDecoder(GzipLimits limits = {});
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  // Decodes `in`, passing each decoded piece (at most `scratch_size` bytes, stored in
  // `scratch`) to `out`.
  template <class Out>
  Result<void> Feed(std::string_view in, char* scratch, size_t scratch_size, Out&& out);

  // Checks that the compressed stream is complete.
  Result<void> Finish() const;

 private:
  // One inflate() step; returns the number of bytes written to scratch via *produced.
  Result<void> Step(char* scratch, size_t scratch_size, size_t* produced);
  // Counts `produced` decoded bytes against the limits.
  Result<void> CheckExpansion(size_t produced);

  z_stream zs_{};
  bool init_ = false;
  bool at_member_end_ = false;  // last inflate() returned Z_STREAM_END
  bool any_input_ = false;
  GzipLimits limits_;
  uint64_t in_total_ = 0;   // compressed bytes fed
  uint64_t out_total_ = 0;  // decoded bytes produced
};

template <class Out>
Result<void> GzipDecoder::Feed(std::string_view in, char* scratch, size_t scratch_size, Out&& out) {
  if (in.empty()) return Ok();
  any_input_ = true;
  in_total_ += in.size();
  zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs_.avail_in = static_cast<uInt>(in.size());
  while (true) {
    size_t produced = 0;
    Result<void> step = Step(scratch, scratch_size, &produced);
    if (!step) return step;
    if (produced > 0) {
      Result<void> limit = CheckExpansion(produced);
      if (!limit) return limit;
      Result<void> r = out(std::string_view(scratch, produced));
      if (!r) return r;
    }
    // Done with this input once it is consumed and inflate had room to spare.
    if (zs_.avail_in == 0 && produced < scratch_size) return Ok();
    if (produced == 0 && !at_member_end_) {
      return MakeError(ErrorKind::kProtocol, "gzip: decoder made no progress");
    }
  }
}

}  // namespace p2p::http
