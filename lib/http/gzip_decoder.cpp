#include "http/gzip_decoder.h"

#include <string>

namespace p2p::http {

GzipDecoder::GzipDecoder(GzipLimits limits) : limits_(limits) {
  // 16 + MAX_WBITS: expect a gzip header and trailer, not raw zlib.
  init_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;
}

GzipDecoder::~GzipDecoder() {
  if (init_) inflateEnd(&zs_);
}

Result<void> GzipDecoder::Step(char* scratch, size_t scratch_size, size_t* produced) {
  if (!init_) return MakeError(ErrorKind::kInternal, "gzip: inflateInit2 failed");
  if (at_member_end_) {
    if (zs_.avail_in == 0) {
      *produced = 0;
      return Ok();
    }
    // More input after the end of a member: the next member starts here.
    if (inflateReset(&zs_) != Z_OK) return MakeError(ErrorKind::kInternal, "gzip: reset failed");
    at_member_end_ = false;
  }
  zs_.next_out = reinterpret_cast<Bytef*>(scratch);
  zs_.avail_out = static_cast<uInt>(scratch_size);
  int rc = inflate(&zs_, Z_NO_FLUSH);
  *produced = scratch_size - zs_.avail_out;
  if (rc == Z_STREAM_END) {
    at_member_end_ = true;
    return Ok();
  }
  if (rc == Z_OK || rc == Z_BUF_ERROR) return Ok();  // Z_BUF_ERROR: needs more input
  std::string what = zs_.msg != nullptr ? zs_.msg : "inflate error " + std::to_string(rc);
  return MakeError(ErrorKind::kProtocol, "gzip: " + what);
}

Result<void> GzipDecoder::CheckExpansion(size_t produced) {
  out_total_ += produced;
  if (out_total_ > limits_.max_output_bytes) {
    return MakeError(ErrorKind::kTooLarge,
                     "gzip: expands beyond " + std::to_string(limits_.max_output_bytes) + " bytes");
  }
  if (limits_.max_ratio != 0 && out_total_ > limits_.ratio_floor_bytes &&
      out_total_ / limits_.max_ratio > in_total_) {
    return MakeError(ErrorKind::kTooLarge, "gzip: expands more than " +
                                               std::to_string(limits_.max_ratio) +
                                               " times its compressed size");
  }
  return Ok();
}

Result<void> GzipDecoder::Finish() const {
  if (any_input_ && !at_member_end_) {
    return MakeError(ErrorKind::kProtocol, "gzip: body ends inside the compressed stream");
  }
  return Ok();
}

}  // namespace p2p::http
