#include "http/body_framer.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/hex.h"

namespace p2p::http::detail {

namespace {

Error BadChunk(const std::string& what) {
  return MakeError(ErrorKind::kProtocol, "bad chunk " + what);
}

}  // namespace

BodyFramer BodyFramer::Length(uint64_t content_length) {
  BodyFramer f;
  f.length_ = content_length;
  f.remaining_ = content_length;
  f.state_ = content_length == 0 ? State::kDone : State::kData;
  return f;
}

BodyFramer BodyFramer::Chunked() { return BodyFramer(); }

size_t BodyFramer::NextRead(size_t room) const {
  switch (state_) {
    case State::kDone:
      return 0;
    case State::kData:
      if (length_) return static_cast<size_t>(std::min<uint64_t>(room, remaining_));
      return static_cast<size_t>(std::min<uint64_t>(room, remaining_ + kLookahead));
    default:
      return std::min(room, kLookahead);
  }
}

BodyFramer::Decoded BodyFramer::Decode(char* data, size_t n) {
  size_t out = 0;
  size_t pos = 0;
  while (pos < n) {
    if (state_ == State::kData) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n - pos));
      if (out != pos) std::memmove(data + out, data + pos, take);
      out += take;
      pos += take;
      remaining_ -= take;
      body_ += take;
      if (remaining_ == 0) state_ = length_ ? State::kDone : State::kDataCr;
      continue;
    }
    if (state_ == State::kDone) {
      extra_ += n - pos;
      break;
    }
    if (auto r = Step(data[pos]); !r) return Decoded{out, std::move(r).error()};
    ++pos;
  }
  return Decoded{out, std::nullopt};
}

Result<void> BodyFramer::Step(char c) {
  switch (state_) {
    case State::kSize: {
      const int v = HexValue(c);
      if (v >= 0) {
        if (size_ >> 56 != 0) return BadChunk("size too large");
        size_ = size_ * 16 + static_cast<uint64_t>(v);
        ++digits_;
        return Ok();
      }
      if (digits_ == 0) return BadChunk("size: not a hex number");
      if (c == '\r') {
        state_ = State::kSizeLf;
      } else if (c == ';' || c == ' ' || c == '\t') {
        state_ = State::kExtension;
      } else {
        return BadChunk("size: not a hex number");
      }
      return Ok();
    }
    case State::kExtension:
      if (c == '\r') {
        state_ = State::kSizeLf;
      } else if (++framing_ > kMaxFramingBytes) {
        return BadChunk("extension over " + std::to_string(kMaxFramingBytes) + " bytes");
      }
      return Ok();
    case State::kSizeLf:
      if (c != '\n') return BadChunk("size line: no LF after CR");
      if (size_ == 0) {
        state_ = State::kTrailer;
      } else {
        state_ = State::kData;
        remaining_ = size_;
      }
      size_ = 0;
      digits_ = 0;
      framing_ = 0;
      return Ok();
    case State::kDataCr:
      if (c != '\r') return BadChunk("data: no CRLF after it");
      state_ = State::kDataLf;
      return Ok();
    case State::kDataLf:
      if (c != '\n') return BadChunk("data: no CRLF after it");
      state_ = State::kSize;
      return Ok();
    case State::kTrailer:
      state_ = c == '\r' ? State::kEndLf : State::kTrailerLine;
      [[fallthrough]];
    case State::kTrailerLine:
      if (++framing_ > kMaxFramingBytes) {
        return BadChunk("trailer over " + std::to_string(kMaxFramingBytes) + " bytes");
      }
      if (state_ == State::kTrailerLine && c == '\r') state_ = State::kTrailerLf;
      return Ok();
    case State::kTrailerLf:
      if (c != '\n') return BadChunk("trailer: no LF after CR");
      state_ = State::kTrailer;
      return Ok();
    case State::kEndLf:
      if (c != '\n') return BadChunk("end: no LF after CR");
      state_ = State::kDone;
      return Ok();
    case State::kData:
    case State::kDone:
      break;
  }
  return Ok();  // not reached: Decode() handles kData and kDone
}

}  // namespace p2p::http::detail
