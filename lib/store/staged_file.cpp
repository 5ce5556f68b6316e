#include "store/staged_file.h"

#include <errno.h>
#include <unistd.h>

#include <charconv>

#include "store/posix_file.h"
#include "store/type_name.h"

namespace p2p::store {

namespace {

constexpr std::string_view kMagic = "#staged ";
constexpr int64_t kMaxFooter = 128;  // "#staged " + a 64-byte type + two 19-digit numbers

bool ParseCount(std::string_view s, int64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && *v >= 0;
}

Error Incomplete(const std::string& path) {
  return MakeError(ErrorKind::kIo, path + ": incomplete staged file");
}

// Fills `buf` from `offset`; false when the file ends first.
Result<bool> ReadAt(int fd, std::string& buf, int64_t offset, const std::string& path) {
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(fd, buf.data() + got, buf.size() - got, offset + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "read " + path);
    if (n == 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string StagedTrailer(std::string_view type, int64_t data_len, std::string_view index_lines) {
  std::string out(index_lines);
  out += kMagic;
  out += type;
  out += ' ' + std::to_string(data_len) + ' ' + std::to_string(index_lines.size()) + '\n';
  return out;
}

Result<StagedFile> ReadStagedFile(int fd, const std::string& path) {
  auto size = FileSize(fd, "stat " + path);
  if (!size) return std::move(size).error();
  std::string tail(static_cast<size_t>(std::min(*size, kMaxFooter)), '\0');
  auto read = ReadAt(fd, tail, *size - static_cast<int64_t>(tail.size()), path);
  if (!read) return std::move(read).error();
  if (!*read || tail.empty() || tail.back() != '\n') return Incomplete(path);
  const size_t start = tail.rfind('\n', tail.size() - 2);
  std::string_view footer =
      std::string_view(tail).substr(start == std::string::npos ? 0 : start + 1);
  footer.remove_suffix(1);
  if (footer.substr(0, kMagic.size()) != kMagic) return Incomplete(path);
  footer.remove_prefix(kMagic.size());
  const size_t sp1 = footer.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : footer.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return Incomplete(path);
  StagedFile f;
  f.type = std::string(footer.substr(0, sp1));
  int64_t index_len = 0;
  if (!IsResourceTypeName(f.type) ||
      !ParseCount(footer.substr(sp1 + 1, sp2 - sp1 - 1), &f.data_len) ||
      !ParseCount(footer.substr(sp2 + 1), &index_len) ||
      f.data_len + index_len + static_cast<int64_t>(kMagic.size() + footer.size() + 1) != *size) {
    return Incomplete(path);
  }
  std::string index(static_cast<size_t>(index_len), '\0');
  read = ReadAt(fd, index, f.data_len, path);
  if (!read) return std::move(read).error();
  if (!*read) return Incomplete(path);
  for (size_t pos = 0; pos < index.size();) {
    const size_t nl = index.find('\n', pos);
    auto e = nl == std::string::npos
                 ? std::nullopt
                 : ParseIndexLine(std::string_view(index).substr(pos, nl - pos));
    if (!e || e->end > f.data_len) return Incomplete(path);
    f.entries.push_back(std::move(*e));
    pos = nl + 1;
  }
  return f;
}

}  // namespace p2p::store
