// synth_bench: how fast Synth generates NDJSON on one core (the sandbox streams export files
// from it, so this bounds what the server can serve). Prints a table and exits 0.
//   synth_bench [members] [resource_scale]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "synth.h"

namespace {

using p2p::sandbox::Synth;
using p2p::sandbox::SynthOptions;

struct Tally {
  uint64_t bytes = 0;
  uint64_t resources = 0;
  double seconds = 0;
};

// Generates every resource of `type` (or all types when empty) for members [0, n) as NDJSON,
// flushing the buffer every ~1 MiB as a server would hand it to the socket.
// Repeats the whole pass until at least half a second has gone by.
Tally Generate(const Synth& synth, uint64_t n, std::string_view type) {
  Tally t;
  std::string out;
  out.reserve(2 << 20);
  uint64_t checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t pass = 0; pass == 0 || t.seconds < 0.5; ++pass) {
    for (uint64_t i = 0; i < n; ++i) {
      for (std::string_view ty : Synth::Types()) {
        if (!type.empty() && ty != type) continue;
        const uint64_t count = synth.ResourceCount(i, ty);
        for (uint64_t k = 0; k < count; ++k) {
          synth.AppendResource(i, ty, k, out);
          out.push_back('\n');
          ++t.resources;
          if (out.size() >= (1 << 20)) {
            t.bytes += out.size();
            checksum += static_cast<unsigned char>(out[out.size() / 2]);
            out.clear();
          }
        }
      }
    }
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (t.resources == 0) break;
  }
  t.bytes += out.size();
  if (checksum == 1) std::puts("");  // keeps the work observable
  return t;
}

void Row(const char* label, const Tally& t) {
  if (t.resources == 0) {
    std::printf("%-44s (none)\n", label);
    return;
  }
  std::printf("%-44s %10.1f MB %12llu %10.1f MB/s %12.0f res/s %7.0f B/res\n", label,
              static_cast<double>(t.bytes) / 1e6, static_cast<unsigned long long>(t.resources),
              static_cast<double>(t.bytes) / 1e6 / t.seconds,
              static_cast<double>(t.resources) / t.seconds,
              static_cast<double>(t.bytes) / static_cast<double>(t.resources));
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t members = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  const uint32_t scale =
      argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 2000;

  std::printf("%-44s %13s %12s %15s %18s %13s\n", "case", "bytes", "resources", "throughput",
              "rate", "size");
  const Synth many(SynthOptions{.seed = 1, .members = members, .resource_scale = 1});
  char label[96];
  std::snprintf(label, sizeof label, "%llu members, all types",
                static_cast<unsigned long long>(members));
  Row(label, Generate(many, members, {}));

  // Group exports at benchmark scale: few members with many resources each.
  const Synth big(SynthOptions{.seed = 1, .members = 2, .resource_scale = scale});
  for (std::string_view type : Synth::Types()) {
    if (type == "Patient" || type == "Coverage") continue;
    std::snprintf(label, sizeof label, "2 members x%u, %.*s", scale, static_cast<int>(type.size()),
                  type.data());
    Row(label, Generate(big, 2, type));
  }

  const auto start = std::chrono::steady_clock::now();
  const Synth million(SynthOptions{.seed = 1, .members = 1000000, .resource_scale = 1});
  uint64_t found = 0;
  for (uint64_t i = 0; i < 100000; ++i) {
    found += million.FindByGroupId(million.GroupId(i * 9 + 7)).has_value() ? 1 : 0;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%-44s %10llu found %24.0f lookups/s\n", "GroupId + FindByGroupId, 1M members",
              static_cast<unsigned long long>(found), 100000 / s);
  return 0;
}
