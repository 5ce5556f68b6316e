#include "probe_command.h"

// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "operator_cli.h"
#include "pipeline/probe.h"

namespace p2p::daemon {

namespace asio = boost::asio;

int RunProbe(const Options& options, const std::string& payer_id, std::FILE* out, std::FILE* err) {
  std::vector<const PayerOptions*> payers;
  for (const PayerOptions& p : options.payers) {
    if (payer_id.empty() || p.id == payer_id) payers.push_back(&p);
  }
  if (payers.empty()) {
    std::string known;
    for (const PayerOptions& p : options.payers) known += (known.empty() ? "" : ", ") + p.id;
    std::fprintf(err, "p2p-ingestd: probe: no payer %s in %s (payers: %s)\n", payer_id.c_str(),
                 options.config_path.c_str(), known.c_str());
    return kOpExitUsage;
  }
  int failed = 0;
  for (const PayerOptions* payer : payers) {
    std::fprintf(out, "payer %s (%s)\n", payer->id.c_str(), payer->base_url.c_str());
    std::fflush(out);
    int counts[4] = {0, 0, 0, 0};  // by ProbeResult
    const auto count = [&](pipeline::ProbeResult r) { return counts[static_cast<int>(r)]; };
    asio::io_context io;
    http::HttpClient client(io, http::ClientOptions{});
    const auto report = [&](const pipeline::ProbeCheck& c) {
      ++counts[static_cast<int>(c.result)];
      std::fprintf(out, "  %-4s  %-26s %6lldms  %s\n",
                   std::string(pipeline::ProbeResultName(c.result)).c_str(), c.name.c_str(),
                   static_cast<long long>(c.elapsed_ms), c.detail.c_str());
      std::fflush(out);
    };
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          failed += co_await pipeline::ProbePayer(client, *payer, report);
        },
        asio::detached);
    io.run();
    const int warnings = count(pipeline::ProbeResult::kWarn);
    std::fprintf(out, "%s: %d checks: %d ok, %d %s, %d failed, %d skipped\n", payer->id.c_str(),
                 counts[0] + counts[1] + counts[2] + counts[3], count(pipeline::ProbeResult::kOk),
                 warnings, warnings == 1 ? "warning" : "warnings",
                 count(pipeline::ProbeResult::kFail), count(pipeline::ProbeResult::kSkip));
    std::fflush(out);
  }
  return failed > 0 ? kProbeExitFailed : 0;
}

}  // namespace p2p::daemon
