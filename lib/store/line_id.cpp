#include "store/line_id.h"

#include <cstring>

namespace p2p::store {

namespace {

// Index just past the closing quote of the string starting at `open` (a '"'), or npos.
size_t StringEnd(std::string_view s, size_t open) {
  size_t i = open + 1;
  while (i < s.size()) {
    const void* hit = std::memchr(s.data() + i, '"', s.size() - i);
    if (hit == nullptr) return std::string_view::npos;
    size_t q = static_cast<const char*>(hit) - s.data();
    size_t backslashes = 0;
    while (q - backslashes > open + 1 && s[q - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return q + 1;
    i = q + 1;
  }
  return std::string_view::npos;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::optional<std::string_view> ExtractTopLevelId(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  if (i == s.size() || s[i] != '{') return std::nullopt;
  ++i;
  int depth = 1;
  bool expect_key = true;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      size_t end = StringEnd(s, i);
      if (end == std::string_view::npos) return std::nullopt;
      if (depth == 1 && expect_key) {
        std::string_view key = s.substr(i + 1, end - i - 2);
        expect_key = false;
        i = end;
        while (i < s.size() && IsSpace(s[i])) ++i;
        if (i == s.size() || s[i] != ':') return std::nullopt;
        ++i;
        while (i < s.size() && IsSpace(s[i])) ++i;
        if (key == "id" && i < s.size() && s[i] == '"') {
          size_t vend = StringEnd(s, i);
          if (vend == std::string_view::npos) return std::nullopt;
          return s.substr(i + 1, vend - i - 2);
        }
        continue;
      }
      i = end;
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return std::nullopt;
    } else if (c == ',' && depth == 1) {
      expect_key = true;
    }
    ++i;
  }
  return std::nullopt;
}

}  // namespace p2p::store
