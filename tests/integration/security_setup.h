// Shared by tls_test.cpp and secrets_test.cpp: a p2p-sandbox (optionally TLS / mutual TLS), its
// roster, and a p2p-ingestd configuration in one temp dir whose security-relevant parts (payer
// tls block, status block, extra payer keys) each test chooses.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/sandbox_process.h"
#include "support/temp_dir.h"

namespace p2p::testing {

constexpr char kClientSecretValue[] = "cl13nt-s3cret-4-test";
constexpr char kStatusTokenValue[] = "st4tus-t0k3n-4-test";

struct SecuritySetup {
  TempDir dir{"p2p-sec-"};
  std::unique_ptr<SandboxProcess> sandbox;

  std::string File(const std::string& name) const { return dir.File(name); }
  std::string config() const { return dir.File("p2p.yaml"); }

  // Starts the sandbox (with `sandbox_args`, e.g. TLS flags and "--client ID:SECRET") and writes
  // its roster of `members` into roster/. Returns "" or an error.
  std::string StartSandbox(std::vector<std::string> sandbox_args, int members = 4) {
    sandbox_args.insert(sandbox_args.end(),
                        {"--members", std::to_string(members), "--seed", "7", "--job-delay", "50ms",
                         "--client", std::string("sandbox-client:") + kClientSecretValue});
    std::string error;
    sandbox = testing::StartSandbox(sandbox_args, &error);
    if (!sandbox) return "sandbox: " + error;
    CommandResult roster = RunCommand(
        SandboxExecutable(),
        {"roster", "--members", std::to_string(members), "--seed", "7", "--out", File("roster")});
    if (roster.exit_code != 0) return "roster: " + roster.err;
    return "";
  }

  // Writes the secret file (mode `secret_mode`) and p2p.yaml for payer bison at `base` (the
  // sandbox URL unless given) with `payer_extra` appended to the payer and `status` as the
  // status block body.
  void WriteConfig(const std::string& payer_extra = "",
                   const std::string& status = "  listen: off\n", mode_t secret_mode = 0600,
                   std::string base = "") {
    if (base.empty()) base = sandbox->url;
    std::filesystem::create_directories(File("inbox"));
    std::ofstream(File("secret")) << kClientSecretValue << "\n";
    ::chmod(File("secret").c_str(), secret_mode);
    std::ofstream(File("status-token")) << kStatusTokenValue << "\n";
    ::chmod(File("status-token").c_str(), 0600);
    std::ofstream c(config());
    c << "state:\n  path: state.db\n"
      << "store:\n  kind: sqlite\n  path: store/resources.db\n"
      << "log:\n  dir: log\n  level: debug\n"
      << "status:\n"
      << status << "source:\n  kind: directory\n  path: inbox\n  poll_interval: 100ms\n"
      << "payers:\n"
      << "  - id: bison\n"
      << "    base_url: " << base << "/v1/bison\n"
      << "    member_match_path: /member-match-sandbox/$member-match\n"
      << "    export_path: /bulk-data/r4/Group/{group_id}/$export\n"
      << "    auth:\n      method: client_secret_post\n"
      << "      token_url: " << base << "/auth/realms/dev-portal/protocol/openid-connect/token\n"
      << "      client_id: sandbox-client\n      client_secret_file: secret\n"
      << "      scope: member-match|read\n"
      << "    retry:\n      max_attempts: 4\n      base_delay: 10ms\n      max_delay: 100ms\n"
      << "    poll:\n      min_interval: 20ms\n      max_interval: 200ms\n      timeout: 2m\n"
      << "    request_timeout: 5s\n"
      << payer_extra;
  }

  // Moves the roster's members.csv (plus `extra_rows`) into the inbox.
  void DropRoster(const std::string& extra_rows = "") {
    std::string csv = ReadFile(File("roster/members.csv")) + extra_rows;
    std::ofstream(File("inbox/members.csv.tmp")) << csv;
    std::filesystem::rename(File("inbox/members.csv.tmp"), File("inbox/members.csv"));
  }

  CommandResult Ingestd(std::vector<std::string> args) const {
    args.insert(args.end(), {"--config", config()});
    return RunCommand(IngestdExecutable(), args, std::chrono::seconds(120));
  }
};

}  // namespace p2p::testing
