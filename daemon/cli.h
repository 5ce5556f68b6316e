// Command line of p2p-ingestd (DESIGN.md "Contracts"):
//   p2p-ingestd run --config FILE [--once]
//   p2p-ingestd check-config --config FILE
//   p2p-ingestd probe --config FILE [--payer ID]
//   p2p-ingestd --version | --help
#pragma once

#include <string>
#include <vector>

namespace p2p::daemon {

struct CommandLine {
  std::string command;  // "run" | "check-config" | "probe" | "version" | "help"
  std::string config;
  std::string payer;  // probe --payer: only this payer ("" = every payer)
  bool once = false;
  std::string error;  // non-empty: usage error, printed with the usage text
};

CommandLine ParseCommandLine(const std::vector<std::string>& args);
const char* UsageText();

}  // namespace p2p::daemon
