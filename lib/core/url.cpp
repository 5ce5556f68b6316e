#include "core/url.h"

#include <cstddef>

namespace p2p {
namespace {

constexpr size_t kMaxUrlBytes = 4096;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Error Invalid(std::string message) { return MakeError(ErrorKind::kInvalid, std::move(message)); }

// Control characters and spaces never belong in a URL we send on the request line.
bool HasBadChar(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return true;
  }
  return false;
}

bool IsDefaultPort(const Url& url) {
  return (url.scheme == "http" && url.port == "80") || (url.scheme == "https" && url.port == "443");
}

std::string BracketedHost(const Url& url) {
  if (url.host.find(':') != std::string::npos) return "[" + url.host + "]";
  return url.host;
}

// Parses a decimal 0..255 octet.
bool ParseOctet(std::string_view s, int* out) {
  if (s.empty() || s.size() > 3) return false;
  int v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  if (v > 255) return false;
  *out = v;
  return true;
}

}  // namespace

std::string Url::Authority() const { return BracketedHost(*this) + ":" + port; }

std::string Url::HostHeader() const {
  if (IsDefaultPort(*this)) return BracketedHost(*this);
  return Authority();
}

std::string_view Url::Path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string Url::ToString() const { return scheme + "://" + HostHeader() + target; }

Result<Url> Url::Parse(std::string_view text) {
  if (text.size() > kMaxUrlBytes) return Invalid("URL over 4096 bytes");
  if (HasBadChar(text)) return Invalid("URL contains a space or control character");
  size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return Invalid("not an absolute URL");
  Url url;
  url.scheme = LowerCopy(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    return Invalid("scheme must be http or https");
  }
  if (text.find('#') != std::string_view::npos) return Invalid("URL has a fragment");

  std::string_view rest = text.substr(sep + 3);
  size_t auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view target =
      auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) return Invalid("URL has user info");

  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid("bad IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid("bad IPv6 host");
      port = after.substr(1);
      if (port.empty()) return Invalid("bad port");
    }
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return Invalid("bad IPv6 host");
    }
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return Invalid("bad port");
    }
  }
  if (host.empty()) return Invalid("empty host");
  if (host.find_first_of("[]") != std::string_view::npos) return Invalid("bad host");

  if (!port.empty()) {
    if (port.size() > 5) return Invalid("bad port");
    int value = 0;
    for (char c : port) {
      if (!IsDigit(c)) return Invalid("bad port");
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return Invalid("bad port");
    url.port = std::to_string(value);
  } else {
    url.port = url.scheme == "https" ? "443" : "80";
  }
  url.host = LowerCopy(host);

  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

Result<Url> Url::Resolve(std::string_view ref) const {
  if (ref.find("://") != std::string_view::npos) return Parse(ref);
  if (ref.size() >= 2 && ref[0] == '/' && ref[1] == '/') {
    return Parse(scheme + ":" + std::string(ref));
  }
  if (ref.empty() || ref.front() != '/') {
    return Invalid("reference is neither an absolute URL nor an absolute path");
  }
  // Re-parse so the same checks (length, fragment, characters) apply to the result.
  return Parse(scheme + "://" + HostHeader() + std::string(ref));
}

bool IsLoopbackHost(std::string_view host) {
  if (!host.empty() && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string lower = LowerCopy(host);
  if (lower == "localhost" || lower == "::1" || lower == "0:0:0:0:0:0:0:1") return true;
  // Dotted quad 127.x.y.z.
  int octets[4];
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    size_t dot = lower.find('.', start);
    if ((i < 3) == (dot == std::string::npos)) return false;
    std::string_view part = std::string_view(lower).substr(
        start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!ParseOctet(part, &octets[i])) return false;
    start = dot + 1;
  }
  return octets[0] == 127;
}

}  // namespace p2p
