// BodyFramer decodes Content-Length and chunked bodies in place, whatever the read sizes; these
// tests build wire bytes, cut them into reads (as NextRead allows, and arbitrarily) and compare
// what comes out with the body that went in.
#include "http/body_framer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace p2p::http::detail {
namespace {

std::string Pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed + i / 13) % 26);
  return s;
}

// Chunked wire bytes for `body` cut into chunks of the given sizes (the last one repeated), with
// a variety of legal framing: upper and lower case hex, leading zeros, extensions, trailers.
std::string Chunk(const std::string& body, const std::vector<size_t>& sizes, bool fancy) {
  std::string wire;
  size_t at = 0;
  for (size_t k = 0; at < body.size(); ++k) {
    const size_t n = std::min(body.size() - at, sizes[std::min(k, sizes.size() - 1)]);
    char size[32];
    std::snprintf(size, sizeof size, fancy && k % 2 ? "%04zX" : "%zx", n);
    wire += size;
    if (fancy && k % 3 == 1) wire += " ;name=\"va;lue\";flag";
    wire += "\r\n" + body.substr(at, n) + "\r\n";
    at += n;
  }
  wire += fancy ? "000;last\r\nX-Trailer: 1\r\nOther:  two \r\n\r\n" : "0\r\n\r\n";
  return wire;
}

struct Outcome {
  std::string body;
  bool done = false;
  uint64_t extra = 0;
  std::string error;
  size_t max_framing_read = 0;  // largest read NextRead allowed that started in framing
};

// Feeds `wire` through a framer, one read at a time: each read takes NextRead(room) bytes, or
// with `random_reads` a random count from 1 to that, into a buffer of `room` bytes.
Outcome Feed(BodyFramer f, const std::string& wire, size_t room, std::mt19937* random_reads) {
  Outcome out;
  std::vector<char> buf(room);
  size_t at = 0;
  while (at < wire.size() && !f.done()) {
    size_t want = f.NextRead(room);
    if (want == 0) break;
    if (random_reads != nullptr) want = 1 + (*random_reads)() % want;
    const size_t n = std::min(want, wire.size() - at);
    std::memcpy(buf.data(), wire.data() + at, n);
    at += n;
    const BodyFramer::Decoded got = f.Decode(buf.data(), n);
    out.body.append(buf.data(), got.body);
    if (got.error) {
      out.error = got.error->message;
      break;
    }
  }
  out.done = f.done();
  out.extra = f.extra();
  EXPECT_EQ(f.body_bytes(), out.body.size());
  return out;
}

TEST(BodyFramer, ChunkedBodiesComeOutWhateverTheChunksAndReads) {
  std::mt19937 rng(7);
  for (size_t size : {0UL, 1UL, 63UL, 64UL, 65UL, 1000UL, 70000UL, 300000UL}) {
    const std::string body = Pattern(size, static_cast<unsigned>(size));
    for (const std::vector<size_t>& chunks :
         std::vector<std::vector<size_t>>{{1}, {7, 3, 64, 65}, {4096}, {262144}, {1 << 20}}) {
      if (chunks[0] == 1 && size > 1000) continue;  // 1-byte chunks of the big ones: slow
      for (bool fancy : {false, true}) {
        const std::string wire = Chunk(body, chunks, fancy);
        for (size_t room : {1UL, 10UL, 64UL, 4096UL, 1UL << 20}) {
          if (room < 64 && size > 70000) continue;  // byte-sized reads of the big ones: slow
          for (std::mt19937* reads : {static_cast<std::mt19937*>(nullptr), &rng}) {
            SCOPED_TRACE(testing::Message() << "size " << size << " chunk " << chunks[0]
                                            << " fancy " << fancy << " room " << room
                                            << " random " << (reads != nullptr));
            const Outcome o = Feed(BodyFramer::Chunked(), wire, room, reads);
            ASSERT_EQ(o.error, "");
            EXPECT_TRUE(o.done);
            EXPECT_EQ(o.extra, 0U);
            EXPECT_TRUE(o.body == body);
          }
        }
      }
    }
  }
}

TEST(BodyFramer, ReadsStopSoonAfterAChunksDataSoThatLittleIsMoved) {
  BodyFramer f = BodyFramer::Chunked();
  EXPECT_EQ(f.NextRead(1 << 20), BodyFramer::kLookahead);  // the first size line
  std::string first = "40000\r\n";                           // 256 KiB
  ASSERT_FALSE(f.Decode(first.data(), first.size()).error);
  EXPECT_EQ(f.NextRead(1 << 20), (256U << 10) + BodyFramer::kLookahead);
  EXPECT_EQ(f.NextRead(1000), 1000U);
  // Data, then the next size line and 5 bytes of data in one read: the 5 bytes move down by
  // the 8 framing bytes, no more.
  std::string read = std::string(256 << 10, 'x') + "\r\n10\r\nabcde";
  const BodyFramer::Decoded got = f.Decode(read.data(), read.size());
  ASSERT_FALSE(got.error);
  EXPECT_EQ(got.body, (256U << 10) + 5);
  EXPECT_EQ(read.substr((256U << 10) - 2, 7), "xxabcde");
  EXPECT_EQ(f.NextRead(1 << 20), 11U + BodyFramer::kLookahead);
}

TEST(BodyFramer, ContentLengthBodiesStopAtTheirLength) {
  const std::string body = Pattern(100000, 3);
  std::mt19937 rng(11);
  for (size_t room : {1UL, 4096UL, 1UL << 20}) {
    const Outcome o = Feed(BodyFramer::Length(body.size()), body, room, &rng);
    EXPECT_TRUE(o.done);
    EXPECT_TRUE(o.body == body);
  }
  BodyFramer f = BodyFramer::Length(10);
  EXPECT_EQ(f.NextRead(1 << 20), 10U);
  EXPECT_EQ(f.NextRead(4), 4U);
  EXPECT_FALSE(f.chunked());
  EXPECT_EQ(f.length(), 10U);
  EXPECT_TRUE(BodyFramer::Length(0).done());
  EXPECT_EQ(BodyFramer::Length(0).NextRead(100), 0U);
}

TEST(BodyFramer, BytesPastTheEndAreCountedAsExtra) {
  std::string wire = "3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK";
  BodyFramer f = BodyFramer::Chunked();
  BodyFramer::Decoded got = f.Decode(wire.data(), wire.size());
  ASSERT_FALSE(got.error);
  EXPECT_EQ(std::string(wire.data(), got.body), "abc");
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.extra(), 15U);
  std::string more = "abcdef";
  BodyFramer g = BodyFramer::Length(4);
  got = g.Decode(more.data(), more.size());
  ASSERT_FALSE(got.error);
  EXPECT_EQ(got.body, 4U);
  EXPECT_EQ(g.extra(), 2U);
}

TEST(BodyFramer, BrokenFramingIsAProtocolError) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\r\n", "bad chunk size: not a hex number"},
      {"g\r\n", "bad chunk size: not a hex number"},
      {"5x\r\n", "bad chunk size: not a hex number"},
      {"-5\r\n", "bad chunk size: not a hex number"},
      {"5\nhello\r\n", "bad chunk size: not a hex number"},
      {"5\r\r", "bad chunk size line: no LF after CR"},
      {"5\r\nhelloX", "bad chunk data: no CRLF after it"},
      {"5\r\nhello\rX", "bad chunk data: no CRLF after it"},
      {"5\r\nhello\n", "bad chunk data: no CRLF after it"},
      {"1000000000000000\r\n", "bad chunk size too large"},
      {"0\r\nX: y\rZ", "bad chunk trailer: no LF after CR"},
      {"0\r\n\rX", "bad chunk end: no LF after CR"},
      {"1;" + std::string(BodyFramer::kMaxFramingBytes + 1, 'e') + "\r\n",
       "bad chunk extension over 65536 bytes"},
      {"0\r\nX: " + std::string(BodyFramer::kMaxFramingBytes, 't') + "\r\n\r\n",
       "bad chunk trailer over 65536 bytes"},
  };
  for (const auto& [wire, error] : cases) {
    for (size_t room : {1UL, 1UL << 20}) {
      SCOPED_TRACE(wire.substr(0, 40));
      const Outcome o = Feed(BodyFramer::Chunked(), wire, room, nullptr);
      EXPECT_EQ(o.error, error);
      EXPECT_FALSE(o.done);
    }
  }
  std::string wire = "5\r\nhello\r\ng";
  const BodyFramer::Decoded got = BodyFramer::Chunked().Decode(wire.data(), wire.size());
  EXPECT_EQ(got.body, 5U);  // the body before the break
  ASSERT_TRUE(got.error);
  EXPECT_EQ(got.error->kind, ErrorKind::kProtocol);
}

TEST(BodyFramer, LargestChunkSizeIsAccepted) {
  BodyFramer f = BodyFramer::Chunked();
  std::string wire = "FFFFFFFFFFFFFFF\r\nab";  // 2^60 - 1
  const BodyFramer::Decoded got = f.Decode(wire.data(), wire.size());
  ASSERT_FALSE(got.error) << got.error->message;
  EXPECT_EQ(got.body, 2U);
  EXPECT_FALSE(f.done());
}

}  // namespace
}  // namespace p2p::http::detail
