#include "store/index_line.h"

#include <algorithm>
#include <charconv>

#include "core/hex.h"
#include "store/posix_file.h"

namespace p2p::store {

namespace {

void AppendEscaped(std::string& out, std::string_view field) {
  if (field.empty()) {
    out += '-';
    return;
  }
  if (field == "-") {
    out += "%2D";
    return;
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : field) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || c == '%') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
}

std::optional<std::string> Unescape(std::string_view field) {
  if (field == "-") return std::string();
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '%') {
      out += field[i];
      continue;
    }
    if (i + 2 >= field.size()) return std::nullopt;
    int hi = HexValue(field[i + 1]), lo = HexValue(field[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

template <typename T>
bool ParseInt(std::string_view s, T* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string FormatIndexLine(const IndexEntry& e) {
  std::string out = std::to_string(e.start) + ' ' + std::to_string(e.end) + ' ';
  AppendEscaped(out, e.payer);
  out += ' ';
  AppendEscaped(out, e.member_key);
  out += ' ';
  AppendEscaped(out, e.tx_time);
  out += ' ' + std::to_string(e.job_id) + ' ' + std::to_string(e.file_index);
  if (e.lines >= 0) out += ' ' + std::to_string(e.lines);
  out += '\n';
  return out;
}

std::optional<IndexEntry> ParseIndexLine(std::string_view line) {
  std::string_view f[8];
  size_t n = 0;
  while (n < 8) {
    size_t sp = line.find(' ');
    f[n++] = line.substr(0, sp);
    if (sp == std::string_view::npos) {
      line = {};
      break;
    }
    line.remove_prefix(sp + 1);
  }
  if (n < 7 || !line.empty()) return std::nullopt;
  IndexEntry e;
  if (!ParseInt(f[0], &e.start) || !ParseInt(f[1], &e.end) || e.start < 0 || e.end < e.start ||
      !ParseInt(f[5], &e.job_id) || !ParseInt(f[6], &e.file_index)) {
    return std::nullopt;
  }
  if (n == 8 && (!ParseInt(f[7], &e.lines) || e.lines < 0 || e.lines > e.end - e.start)) {
    return std::nullopt;
  }
  auto payer = Unescape(f[2]), member = Unescape(f[3]), tx = Unescape(f[4]);
  if (!payer || !member || !tx) return std::nullopt;
  e.payer = std::move(*payer);
  e.member_key = std::move(*member);
  e.tx_time = std::move(*tx);
  return e;
}

Result<std::vector<IndexEntry>> ReadIndexFile(int fd, int64_t end, const std::string& path) {
  std::vector<IndexEntry> entries;
  LineReader reader(fd, end, path);
  std::string_view line;
  int64_t offset = 0;
  for (int64_t n = 1;; ++n) {
    auto more = reader.Next(&line, &offset);
    if (!more) return std::move(more).error();
    if (!*more) break;
    auto e = ParseIndexLine(line);
    if (!e) {
      return MakeError(ErrorKind::kIo, path + ":" + std::to_string(n) + ": malformed index line");
    }
    entries.push_back(std::move(*e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const IndexEntry& a, const IndexEntry& b) { return a.start < b.start; });
  return entries;
}

}  // namespace p2p::store
