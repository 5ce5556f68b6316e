// Absolute http(s) URL, split for the HTTP client. Pure.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace p2p {

struct Url {
  std::string scheme;  // "http" | "https" (lower-case)
  std::string host;    // lower-case; IPv6 without brackets
  std::string port;    // explicit or the scheme's default ("80" / "443")
  std::string target;  // path + optional "?query", at least "/"

  bool tls() const { return scheme == "https"; }
  // host:port key for pooling; "[v6]:port" for IPv6.
  std::string Authority() const;
  // Host header value ("host" or "host:port" when not the default port).
  std::string HostHeader() const;
  // The path without the query, for logs (queries may carry ids).
  std::string_view Path() const;
  std::string ToString() const;

  // Parses "scheme://host[:port][/path][?query]". Errors (kInvalid): not absolute, scheme other
  // than http/https, empty host, bad port, userinfo present, fragment, over 4096 bytes.
  static Result<Url> Parse(std::string_view text);
  // Resolves `ref` (absolute URL or absolute path "/x") against this URL.
  Result<Url> Resolve(std::string_view ref) const;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(std::string_view host);

}  // namespace p2p
