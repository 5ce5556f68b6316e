// libFuzzer target: http::detail::BodyFramer on arbitrary response-body bytes.
// The first byte picks the framing (odd: Content-Length of the next byte x 97, even: chunked) and
// the second the size of the reads. Invariants: the bytes come out the same whatever the reads
// (one byte at a time, the fuzzed size, all at once), with the same error and end; a read never
// gives more body bytes than it had; body_bytes() counts what came out.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "http/body_framer.h"

namespace {

using p2p::http::detail::BodyFramer;

struct Out {
  std::string body;
  std::optional<std::string> error;
  bool done = false;
  uint64_t extra = 0;
};

Out Decode(BodyFramer f, const uint8_t* data, size_t size, size_t read) {
  Out out;
  std::vector<char> buf(read + 1);
  size_t at = 0;
  while (at < size && !out.error) {
    const size_t n = std::min(read, size - at);
    std::memcpy(buf.data(), data + at, n);
    at += n;
    const BodyFramer::Decoded got = f.Decode(buf.data(), n);
    if (got.body > n) std::abort();
    out.body.append(buf.data(), got.body);
    if (got.error) out.error = got.error->message;
  }
  if (f.body_bytes() != out.body.size()) std::abort();
  out.done = f.done();
  out.extra = f.extra();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool chunked = (data[0] & 1) == 0;
  const uint64_t length = static_cast<uint64_t>(data[0] >> 1) * 97;
  const size_t read = static_cast<size_t>(data[1]) + 1;
  const auto make = [&] { return chunked ? BodyFramer::Chunked() : BodyFramer::Length(length); };
  data += 2;
  size -= 2;
  const Out whole = Decode(make(), data, size, size == 0 ? 1 : size);
  for (size_t r : {size_t{1}, read}) {
    const Out split = Decode(make(), data, size, r);
    if (split.body != whole.body || split.error != whole.error || split.done != whole.done ||
        split.extra != whole.extra) {
      std::abort();
    }
  }
  return 0;
}
