#include "support/sandbox_process.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace p2p::testing {

namespace {
std::string BesideTestBinary(const char* env, const char* name) {
  const char* p = std::getenv(env);
  if (p != nullptr && *p != '\0') return p;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : (self.parent_path() / name).string();
}
}  // namespace

std::string SandboxExecutable() { return BesideTestBinary("P2P_SANDBOX", "p2p-sandbox"); }
std::string IngestdExecutable() { return BesideTestBinary("P2P_INGESTD", "p2p-ingestd"); }

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
