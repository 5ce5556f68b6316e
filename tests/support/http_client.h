// HttpClient: a small blocking HTTP/1.1 client for tests (Boost.Beast), plain or TLS.
//
// One keep-alive connection at a time: a request to another scheme/host/port than the open
// connection closes it and connects anew; a request after a failure connects anew. A failed
// request is never retried, so injected faults stay visible. Every request has a timeout
// (default 5 s; set_timeout). TLS verifies the peer against `ca_file` with host-name checking
// and SNI. Bodies are returned as received (no gzip decoding).
//
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace p2p::testing {

struct HttpResponse {
  int status = 0;                              // 0 when no header arrived
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;                           // empty on success, else what failed

  bool ok() const { return error.empty(); }
  // Header value by case-insensitive name, "" when absent.
  std::string Header(std::string_view name) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  // `base_url` is "http://HOST:PORT" or "https://HOST:PORT"; relative targets go there.
  // `ca_file` (PEM) is required for https.
  explicit HttpClient(std::string base_url, std::string ca_file = "");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target` is a path ("/x?y") on base_url, or an absolute http(s) URL.
  HttpResponse Request(std::string_view method, std::string_view target, std::string body = "",
                       const Headers& headers = {});
  HttpResponse Get(std::string_view target, const Headers& headers = {}) {
    return Request("GET", target, "", headers);
  }
  HttpResponse Post(std::string_view target, std::string body, std::string_view content_type,
                    Headers headers = {});

  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  // Closes the keep-alive connection (if any).
  void Close();
  // Connections opened so far (keep-alive tests).
  int connections_opened() const { return connections_opened_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string base_url_;
  std::string ca_file_;
  std::chrono::milliseconds timeout_{5000};
  int connections_opened_ = 0;
};

// Splits "http(s)://host:port/path?q" into parts; false when not such a URL.
struct UrlParts {
  std::string scheme, host, port, target;
};
bool SplitUrl(std::string_view url, UrlParts* out);

}  // namespace p2p::testing
