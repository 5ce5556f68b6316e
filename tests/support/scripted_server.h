// A scripted HTTP/1.1 server for byte-level client tests: listens on 127.0.0.1 port 0 (plain or
// TLS), runs its own io_context on a background thread, and plays one script per accepted
// connection (connection i plays scripts[i]; connections beyond the list are closed at once).
// A script is a list of steps: read one request (recorded), send raw bytes, wait, close, or wait
// for the client to close. Recorded requests are readable from the test thread at any time.
//
// Threading: the constructor starts the server thread; the destructor (or Stop()) stops and
// joins it. requests() / connections() are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace p2p::test {

struct RecordedRequest {
  int connection = 0;  // 0-based accept index
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;

  // First header with this lower-case name, or "" when absent.
  std::string Header(std::string_view lower_name) const;
};

struct Step {
  enum class Kind { kReadRequest, kSend, kDelay, kClose, kWaitClose };
  Kind kind = Kind::kClose;
  std::string bytes;
  std::chrono::milliseconds delay{0};

  static Step ReadRequest() { return {Kind::kReadRequest, {}, {}}; }
  static Step Send(std::string bytes) { return {Kind::kSend, std::move(bytes), {}}; }
  static Step Delay(std::chrono::milliseconds ms) { return {Kind::kDelay, {}, ms}; }
  static Step Close() { return {Kind::kClose, {}, {}}; }
  // Reads and discards until the client closes (keeps a connection open without answering).
  static Step WaitClose() { return {Kind::kWaitClose, {}, {}}; }
};
using Script = std::vector<Step>;

// A certificate and its private key, PEM.
struct TlsIdentity {
  std::string cert_pem;
  std::string key_pem;
};
// Self-signed P-256 certificate with these subjectAltNames (e.g. {"DNS:localhost"}).
TlsIdentity MakeSelfSignedIdentity(const std::vector<std::string>& subject_alt_names);

// "HTTP/1.1 <status> X\r\nContent-Length: n\r\n<extra headers>\r\n<body>"; `extra_headers` are
// full lines each ending in "\r\n".
std::string HttpResponse(int status, std::string_view body, std::string_view extra_headers = "");

class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<Script> scripts,
                          std::optional<TlsIdentity> tls = std::nullopt);
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  uint16_t port() const;
  // "http(s)://127.0.0.1:<port><path>"
  std::string Url(std::string_view path) const;
  int connections() const;
  std::vector<RecordedRequest> requests() const;
  void Stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace p2p::test
