// Test harness: p2p-sandbox + p2p-ingestd in a temp dir, and the comparison of the daemon's
// outcome with the roster's expected.json (outcome per member, ids per type per member).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/child_process.h"
#include "support/temp_dir.h"

namespace p2p::testing {

struct Expected {
  std::map<std::string, std::string> outcome;  // member_key -> complete | no_match | consent_refused
  // type -> {(member_key, id)}
  std::map<std::string, std::set<std::pair<std::string, std::string>>> resources;
};

struct HarnessOptions {
  int members = 200;
  int seed = 7;
  std::string flavor = "1up";
  std::string store = "sqlite";
  std::string faults;  // sandbox --faults
  std::string job_delay = "50ms";
  int concurrency = 16;
  int max_attempts = 12;
  std::string status_listen = "off";  // e.g. "127.0.0.1:0"
  // The payer's `auth:` block (indented lines after "    auth:\n"); empty: client_secret_post
  // with the sandbox's default client. Files it names are relative to dir(); "{sandbox}" becomes
  // the sandbox's URL.
  std::string auth_yaml;
  std::vector<std::string> sandbox_args;  // extra p2p-sandbox flags, e.g. --client-jwks
};

class DaemonHarness {
 public:
  explicit DaemonHarness(HarnessOptions o);

  // Starts the sandbox, writes the roster and the config. Returns "" or an error.
  std::string Start();
  // Moves the roster's members.csv into the inbox under `name`.
  void DropRoster(const std::string& name);
  // p2p-ingestd run --once; returns its exit code (stdout/stderr kept in last_run()).
  int RunOnce(std::chrono::milliseconds timeout = std::chrono::seconds(240));
  const CommandResult& last_run() const { return last_; }
  // p2p-ingestd run (not once) as a child, for kill tests.
  std::unique_ptr<ChildProcess> StartDaemon(std::string* error,
                                            std::vector<std::string> extra_env = {});

  Expected LoadExpected() const;
  std::map<std::string, std::string> MemberStates() const;  // member_key -> state name
  int64_t CountRows(const std::string& sql) const;          // on the state DB
  Expected LoadStore() const;                                // outcome: unused
  std::string SandboxUrl() const { return sandbox_url_; }

  const std::filesystem::path& dir() const { return tmp_.path(); }
  std::string config_path() const { return (tmp_.path() / "p2p.yaml").string(); }
  std::string state_path() const { return (tmp_.path() / "state.db").string(); }
  std::string store_path() const;
  std::filesystem::path inbox() const { return tmp_.path() / "inbox"; }

 private:
  HarnessOptions o_;
  TempDir tmp_;
  std::unique_ptr<ChildProcess> sandbox_;
  std::string sandbox_url_;
  CommandResult last_;
};

}  // namespace p2p::testing
