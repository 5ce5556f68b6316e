#include "text_util.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace p2p::sandbox {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads exactly `n` digits at `pos`; advances `pos`.
std::optional<int> Digits(std::string_view text, size_t& pos, size_t n) {
  if (pos + n > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += n;
  return value;
}

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xf]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string OperationOutcome(std::string_view severity, std::string_view code,
                             std::string_view diagnostics) {
  std::string out = R"({"resourceType":"OperationOutcome","issue":[{"severity":)";
  AppendJsonString(out, severity);
  out += R"(,"code":)";
  AppendJsonString(out, code);
  out += R"(,"diagnostics":)";
  AppendJsonString(out, diagnostics);
  out += "}]}";
  return out;
}

std::string FormatInstant(int64_t epoch_ms) {
  using namespace std::chrono;
  int64_t secs = epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000;
  int ms = static_cast<int>(epoch_ms - secs * 1000);
  sys_seconds tp{seconds{secs}};
  sys_days day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss hms{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()), ms);
  return buf;
}

std::string FormatDate(int64_t epoch_s) { return FormatInstant(epoch_s * 1000).substr(0, 10); }

std::string FormatHttpDate(int64_t epoch_s) {
  using namespace std::chrono;
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  sys_seconds tp{seconds{epoch_s}};
  sys_days day = floor<days>(tp);
  year_month_day ymd{day};
  weekday wd{day};
  hh_mm_ss hms{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT", kDays[wd.c_encoding()],
                unsigned(ymd.day()), kMonths[unsigned(ymd.month()) - 1], int(ymd.year()),
                int(hms.hours().count()), int(hms.minutes().count()),
                int(hms.seconds().count()));
  return buf;
}

std::optional<int64_t> ParseInstant(std::string_view text) {
  using namespace std::chrono;
  size_t pos = 0;
  auto y = Digits(text, pos, 4);
  if (!y || !Expect(text, pos, '-')) return std::nullopt;
  auto mo = Digits(text, pos, 2);
  if (!mo || !Expect(text, pos, '-')) return std::nullopt;
  auto d = Digits(text, pos, 2);
  if (!d) return std::nullopt;
  year_month_day ymd{year{*y}, month{unsigned(*mo)}, day{unsigned(*d)}};
  if (!ymd.ok()) return std::nullopt;
  int64_t secs = sys_days{ymd}.time_since_epoch() / seconds{1};
  if (pos == text.size()) return secs;
  if (!Expect(text, pos, 'T')) return std::nullopt;
  auto h = Digits(text, pos, 2);
  if (!h || !Expect(text, pos, ':')) return std::nullopt;
  auto mi = Digits(text, pos, 2);
  if (!mi || !Expect(text, pos, ':')) return std::nullopt;
  auto s = Digits(text, pos, 2);
  if (!s || *h > 23 || *mi > 59 || *s > 60) return std::nullopt;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return std::nullopt;
  }
  secs += *h * 3600 + *mi * 60 + *s;
  if (pos >= text.size()) return std::nullopt;  // an instant needs a zone
  if (text[pos] == 'Z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    auto zh = Digits(text, pos, 2);
    if (!zh || !Expect(text, pos, ':')) return std::nullopt;
    auto zm = Digits(text, pos, 2);
    if (!zm) return std::nullopt;
    secs -= sign * (*zh * 3600 + *zm * 60);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return secs;
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> ParseForm(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    size_t amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.emplace(std::move(*key), std::move(*value));
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') { ++pad; continue; }
    else return std::nullopt;
    if (pad) return std::nullopt;  // data after padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (pad > 2) return std::nullopt;
  return out;
}

std::optional<BasicCredentials> ParseBasicAuth(std::string_view header_value) {
  constexpr std::string_view kPrefix = "Basic ";
  if (header_value.size() <= kPrefix.size()) return std::nullopt;
  for (size_t i = 0; i < 5; ++i) {
    if (std::tolower(static_cast<unsigned char>(header_value[i])) != "basic"[i]) return std::nullopt;
  }
  if (header_value[5] != ' ') return std::nullopt;
  auto decoded = Base64Decode(header_value.substr(kPrefix.size()));
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto id = PercentDecode(std::string_view(*decoded).substr(0, colon), true);
  auto secret = PercentDecode(std::string_view(*decoded).substr(colon + 1), true);
  if (!id || !secret) return std::nullopt;
  return BasicCredentials{std::move(*id), std::move(*secret)};
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  size_t unit_at = 0;
  while (unit_at < text.size() &&
         ((text[unit_at] >= '0' && text[unit_at] <= '9') || text[unit_at] == '.')) {
    ++unit_at;
  }
  std::string number(text.substr(0, unit_at));
  std::string_view unit = text.substr(unit_at);
  if (number.empty() || number.front() == '.') return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;
  double factor;
  if (unit.empty() || unit == "s") factor = 1000;
  else if (unit == "ms") factor = 1;
  else if (unit == "m") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(value * factor + 0.5));
}

}  // namespace p2p::sandbox
