// BodyFramer: the framing of an HTTP/1.1 response body (Content-Length or chunked transfer
// coding, RFC 9112 sections 6.3 and 7.1), decoded in place in the buffer the bytes were read to.
//
// HttpClient::Stream uses it for 2xx identity bodies: Beast's parser reads the header,
// then the client reads the body straight from the socket into the sink's buffer (up to 64 KiB
// a read, and no further than the framing allows), instead of through Beast's parser, which
// reads into its own buffer and then copies the body bytes out of it. Chunk framing read along
// with data is cut out by moving the data after it down: NextRead() limits a read to the current
// chunk's data plus kLookahead bytes, so at most kLookahead bytes move per chunk, and a read that
// would start with framing is a short one (kLookahead).
//
// Errors: Decode() returns kProtocol "bad chunk ..." for framing that breaks the grammar (a size
// that is not hex or of 2^60 or more, no CRLF after a chunk's data, a chunk extension or trailer
// section over kMaxFramingBytes).
// Threading: one instance per response; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/result.h"

namespace p2p::http::detail {

class BodyFramer {
 public:
  static constexpr size_t kLookahead = 64;
  // Chunk extensions and trailer fields are skipped, up to this many bytes per chunk / message.
  static constexpr size_t kMaxFramingBytes = 64 * 1024;

  static BodyFramer Length(uint64_t content_length);
  static BodyFramer Chunked();

  // The most bytes the next read may take, given `room` bytes of buffer: never past the end of a
  // Content-Length body, and never more than kLookahead past the current chunk's data. 0 once
  // done().
  size_t NextRead(size_t room) const;

  // Decodes the `n` bytes just read to `data`: moves the body bytes among them to data[0, body),
  // in order. Bytes past the end of the message (a server that sent more than its framing said)
  // are counted in extra() and dropped. On broken framing, `body` counts the bytes before it and
  // `error` is set (kProtocol); the framer is then only fit for destruction.
  struct Decoded {
    size_t body = 0;
    std::optional<Error> error;
  };
  Decoded Decode(char* data, size_t n);

  bool done() const { return state_ == State::kDone; }
  bool chunked() const { return !length_.has_value(); }
  std::optional<uint64_t> length() const { return length_; }
  uint64_t body_bytes() const { return body_; }
  uint64_t extra() const { return extra_; }

 private:
  enum class State {
    kSize,        // chunk size digits
    kExtension,   // after the size: chunk extension up to CR
    kSizeLf,      // LF after the size line's CR
    kData,        // chunk data (or a Content-Length body)
    kDataCr,      // CR after chunk data
    kDataLf,      // LF after chunk data
    kTrailer,     // start of a trailer line (CR here: end of the message)
    kTrailerLine, // inside a trailer field line
    kTrailerLf,   // LF ending a trailer field line
    kEndLf,       // LF of the final empty line
    kDone,
  };

  BodyFramer() = default;
  Result<void> Step(char c);  // one framing byte

  std::optional<uint64_t> length_;
  State state_ = State::kSize;
  uint64_t remaining_ = 0;  // data bytes left in the current chunk (or body)
  uint64_t size_ = 0;       // chunk size being read
  int digits_ = 0;
  size_t framing_ = 0;      // extension / trailer bytes skipped so far
  uint64_t body_ = 0;
  uint64_t extra_ = 0;
};

}  // namespace p2p::http::detail
