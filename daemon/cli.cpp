#include "cli.h"

namespace p2p::daemon {

const char* UsageText() {
  return "usage: p2p-ingestd run --config FILE [--once]\n"
         "       p2p-ingestd check-config --config FILE\n"
         "       p2p-ingestd probe --config FILE [--payer ID]\n"
         "       p2p-ingestd --version\n"
         "\n"
         "  run           ingest members from the configured source until SIGTERM;\n"
         "                --once: take in what the source holds, drive every job to a\n"
         "                terminal state, print a summary and exit\n"
         "  check-config  validate the configuration; exit 0, or 78 with every problem\n"
         "  probe         before go-live, test each payer (or --payer ID): TLS, token,\n"
         "                metadata, smart-configuration; no member data is sent; one\n"
         "                line per check; exit 0 when none failed, 1 when one did\n";
}

CommandLine ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine cl;
  if (args.empty()) {
    cl.error = "missing command";
    return cl;
  }
  size_t i = 0;
  const std::string& first = args[0];
  if (first == "--version" || first == "version") {
    cl.command = "version";
    return cl;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    cl.command = "help";
    return cl;
  }
  if (first != "run" && first != "check-config" && first != "probe") {
    cl.error = "unknown command: " + first;
    return cl;
  }
  cl.command = first;
  for (i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size()) {
        cl.error = "--config needs a file";
        return cl;
      }
      cl.config = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      cl.config = a.substr(9);
    } else if (a == "--once" && cl.command == "run") {
      cl.once = true;
    } else if (a == "--payer" && cl.command == "probe") {
      if (i + 1 >= args.size()) {
        cl.error = "--payer needs an id";
        return cl;
      }
      cl.payer = args[++i];
    } else if (a.rfind("--payer=", 0) == 0 && cl.command == "probe") {
      cl.payer = a.substr(8);
    } else {
      cl.error = "unknown option for " + cl.command + ": " + a;
      return cl;
    }
  }
  if (cl.config.empty()) cl.error = cl.command + " needs --config FILE";
  return cl;
}

}  // namespace p2p::daemon
