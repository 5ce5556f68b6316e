#include "support/sandbox_process.h"

#include <algorithm>
#include <cstdlib>

namespace p2p::testing {

std::string SandboxExecutable() {
  const char* path = std::getenv("P2P_SANDBOX");
  return path ? path : "";
}

std::unique_ptr<SandboxProcess> StartSandbox(const std::vector<std::string>& args,
                                             std::string* error) {
  std::string binary = SandboxExecutable();
  if (binary.empty()) {
    *error = "P2P_SANDBOX is not set";
    return nullptr;
  }
  auto sandbox = std::make_unique<SandboxProcess>();
  std::vector<std::string> argv = args;
  if (std::find(argv.begin(), argv.end(), "--listen") == argv.end()) {
    argv.insert(argv.begin(), {"--listen", "127.0.0.1:0"});
  }
  ChildOptions options;
  options.stderr_path = sandbox->dir.File("sandbox.stderr");
  sandbox->process = ChildProcess::Start(binary, argv, error, options);
  if (!sandbox->process) {
    *error += "; stderr: " + ReadFile(options.stderr_path);
    return nullptr;
  }
  sandbox->url = sandbox->process->ListeningUrl();
  if (sandbox->url.empty()) {
    *error = "unexpected first line: " + sandbox->process->first_line();
    return nullptr;
  }
  return sandbox;
}

std::string FetchToken(HttpClient& client, const std::string& id, const std::string& secret) {
  HttpResponse r = client.Post("/auth/realms/dev-portal/protocol/openid-connect/token",
                               "client_id=" + id + "&client_secret=" + secret +
                                   "&grant_type=client_credentials&scope=member-match|read",
                               "application/x-www-form-urlencoded");
  if (!r.ok() || r.status != 200) return "";
  constexpr std::string_view kKey = "\"access_token\":\"";
  size_t at = r.body.find(kKey);
  if (at == std::string::npos) return "";
  at += kKey.size();
  size_t end = r.body.find('"', at);
  return end == std::string::npos ? "" : r.body.substr(at, end - at);
}

}  // namespace p2p::testing
