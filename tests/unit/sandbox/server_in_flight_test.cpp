// p2p-sandbox's /admin/stats "in_flight_peak": the most requests answered at once, API requests
// and file downloads apart and together (the daemon's bounds over all payers are checked by it).
#include <gtest/gtest.h>

#include <string>

#include "sandbox_app.h"

namespace p2p::sandbox {
namespace {

std::string Peak(const SandboxApp& app) {
  const std::string stats = app.StatsJson();
  const size_t at = stats.find(R"("in_flight_peak":)");
  if (at == std::string::npos) return "";
  return stats.substr(at, stats.find('}', at) - at + 1);
}

TEST(SandboxInFlightPeak, PeaksCountApiAndFilesApartAndTogether) {
  ServerOptions options;
  options.synth = SynthOptions{3, 1, 1};
  SandboxApp app(options, "http://sandbox.test:9");
  EXPECT_EQ(Peak(app), R"("in_flight_peak":{"api":0,"file":0,"all":0})");
  app.Began(Endpoint::kFile);
  app.Began(Endpoint::kFile);
  app.Began(Endpoint::kToken);
  app.Began(Endpoint::kAdmin);  // not a payer request: not counted
  app.Ended(Endpoint::kFile);
  app.Ended(Endpoint::kToken);
  app.Began(Endpoint::kMatch);
  app.Began(Endpoint::kJob);
  app.Ended(Endpoint::kAdmin);
  EXPECT_EQ(Peak(app), R"("in_flight_peak":{"api":2,"file":2,"all":3})");
  app.Ended(Endpoint::kMatch);
  app.Ended(Endpoint::kJob);
  app.Ended(Endpoint::kFile);
  EXPECT_EQ(Peak(app), R"("in_flight_peak":{"api":2,"file":2,"all":3})");  // peaks stay
}

}  // namespace
}  // namespace p2p::sandbox
