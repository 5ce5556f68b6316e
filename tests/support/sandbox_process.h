// Starting p2p-sandbox from tests: StartSandbox runs the binary named by $P2P_SANDBOX with
// `--listen 127.0.0.1:0` (unless the args carry --listen) and the given flags, waits for its
// `listening on URL` line and keeps its stderr (the request log) in a temp dir.
// FetchToken gets a bearer token with the seed's form request (step 7).
// Not thread-safe; the SandboxProcess owns the child and stops it (SIGTERM) when destroyed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace p2p::testing {

struct SandboxProcess {
  TempDir dir{"p2p-sandbox-test-"};
  std::unique_ptr<ChildProcess> process;
  std::string url;  // e.g. http://127.0.0.1:41234

  std::string StderrLog() const { return ReadFile(dir.File("sandbox.stderr")); }
};

// $P2P_SANDBOX / $P2P_INGESTD (ctest sets them), else the binary built next to the running test
// binary (build/p2p-sandbox, build/p2p-ingestd), so a test binary also runs on its own.
std::string SandboxExecutable();
std::string IngestdExecutable();

// nullptr + *error when the binary is missing or does not start.
std::unique_ptr<SandboxProcess> StartSandbox(const std::vector<std::string>& args,
                                             std::string* error);

// POSTs client credentials to the token endpoint; the access_token, or "" on any failure.
std::string FetchToken(HttpClient& client, const std::string& id = "sandbox-client",
                       const std::string& secret = "sandbox-secret");

}  // namespace p2p::testing
