// p2p-sandbox: a local prior-payer server speaking the seed's 1up Payer-to-Payer API, and the
// `roster` command that writes the member file the daemon reads (see sandbox/README.md).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "roster.h"
#include "server.h"
#include "server_options.h"

int main(int argc, char** argv) {
  using namespace p2p::sandbox;
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string error;
    auto cl = ParseCommandLine(args, &error);
    if (!cl) {
      std::fprintf(stderr, "p2p-sandbox: %s\n%s", error.c_str(), kUsage);
      return 2;
    }
    switch (cl->command) {
      case CommandLine::Command::kHelp:
        std::fputs(kUsage, stdout);
        return 0;
      case CommandLine::Command::kRoster:
        return WriteRoster(cl->roster.synth, cl->roster.payer, cl->roster.out_dir);
      case CommandLine::Command::kServe:
        return RunServer(cl->serve);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "p2p-sandbox: fatal: %s\n", e.what());
  }
  return 1;
}
