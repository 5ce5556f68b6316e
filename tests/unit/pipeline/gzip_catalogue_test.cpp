// The gzip case of the bad-input catalogue (index: tests/integration/bad_input_test.cpp): a body
// that expands beyond GzipLimits is refused as kTooLarge before the excess reaches the sink, while
// ordinary compressed NDJSON passes. (Here, not in tests/unit/http, because the downloads of the
// pipeline are what the limit protects.)
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "http/gzip_decoder.h"

namespace p2p::http {
namespace {

std::string Gzip(const std::string& text) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, text.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

struct Decoded {
  std::string error;  // "" when all went well
  size_t delivered = 0;
};

// Feeds `zipped` in 16 KiB pieces, as the HTTP client does.
Decoded Decode(const std::string& zipped, GzipLimits limits) {
  GzipDecoder decoder(limits);
  std::vector<char> scratch(64 * 1024);
  Decoded d;
  for (size_t i = 0; i < zipped.size(); i += 16 * 1024) {
    auto r = decoder.Feed(std::string_view(zipped).substr(i, 16 * 1024), scratch.data(),
                          scratch.size(), [&](std::string_view piece) -> Result<void> {
                            d.delivered += piece.size();
                            return Ok();
                          });
    if (!r) {
      d.error = std::string(ErrorKindName(r.error().kind)) + ": " + r.error().message;
      return d;
    }
  }
  auto f = decoder.Finish();
  if (!f) d.error = f.error().message;
  return d;
}

// NDJSON-like text with varying ids and dates: compresses like real data (well under 50:1).
std::string Ndjson(int lines) {
  std::string out;
  for (int i = 0; i < lines; ++i) {
    out += R"({"resourceType":"Observation","id":"obs-)" + std::to_string(i * 7919) +
           R"(","status":"final","effectiveDateTime":"2024-0)" + std::to_string(1 + i % 9) + "-1" +
           std::to_string(i % 10) + R"(","valueQuantity":{"value":)" +
           std::to_string((i * 31) % 1000) + "}}\n";
  }
  return out;
}

TEST(GzipCatalogue, OrdinaryNdjsonPassesTheDefaultLimits) {
  const std::string text = Ndjson(20000);
  const Decoded d = Decode(Gzip(text), GzipLimits{});
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.delivered, text.size());
}

TEST(GzipCatalogue, BombIsRefusedByTheRatioLimit) {
  const std::string zipped = Gzip(std::string(16 << 20, '\n'));
  ASSERT_LT(zipped.size(), 100u * 1024);
  const Decoded d = Decode(zipped, GzipLimits{});
  EXPECT_EQ(d.error, "too_large: gzip: expands more than 250 times its compressed size");
  EXPECT_LT(d.delivered, 8u << 20);  // stopped early, not after 16 MiB
}

TEST(GzipCatalogue, BodyPastTheOutputLimitIsRefused) {
  GzipLimits limits;
  limits.max_output_bytes = 100000;
  limits.max_ratio = 0;  // off: only the absolute limit
  const Decoded d = Decode(Gzip(Ndjson(5000)), limits);
  EXPECT_EQ(d.error, "too_large: gzip: expands beyond 100000 bytes");
  EXPECT_LE(d.delivered, 100000u);
}

TEST(GzipCatalogue, SmallHighlyCompressedBodiesAreBelowTheRatioFloor) {
  // 512 KiB of blank lines is ~1000:1 but under ratio_floor_bytes: not worth refusing.
  const Decoded d = Decode(Gzip(std::string(512 * 1024, '\n')), GzipLimits{});
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.delivered, 512u * 1024);
}

}  // namespace
}  // namespace p2p::http
