#include "store/posix_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace p2p::store {

Error ErrnoError(int err, std::string_view what) {
  // A read-only file system cannot take writes either: the caller waits as for a full one.
  ErrorKind kind =
      (err == ENOSPC || err == EDQUOT || err == EROFS) ? ErrorKind::kDiskFull : ErrorKind::kIo;
  return MakeError(kind, std::string(what) + ": " + std::strerror(err));
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<UniqueFd> OpenFile(const std::string& path, int flags) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoError(errno, "open " + path);
  return UniqueFd(fd);
}

Result<UniqueFd> OpenIfExists(const std::string& path, int flags) {
  auto fd = OpenFile(path, flags);
  if (!fd && ::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return UniqueFd();
  return fd;
}

Result<void> RemoveDirFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Ok();
    return ErrnoError(errno, "opendir " + dir);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    std::string path = dir;
    path += '/';
    path += name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "remove " + path);
  }
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "remove " + dir);
  return Ok();
}

Result<void> MakeDirs(const std::string& path, unsigned mode) {
  if (path.empty()) return MakeError(ErrorKind::kInvalid, "empty directory path");
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoError(errno, "mkdir " + prefix);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, "stat " + path);
  if (!S_ISDIR(st.st_mode)) return MakeError(ErrorKind::kIo, path + ": not a directory");
  return Ok();
}

Result<void> WriteAll(int fd, const char* data, size_t size, std::string_view what) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, what);
    }
    if (n == 0) return ErrnoError(ENOSPC, what);
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Ok();
}

Result<void> PwriteAll(int fd, const char* data, size_t size, int64_t offset,
                       std::string_view what) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, what);
    }
    if (n == 0) return ErrnoError(ENOSPC, what);
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return Ok();
}

namespace {

Result<void> CopyByReadWrite(int in, int64_t in_off, int out, int64_t out_off, int64_t len,
                             std::string_view what) {
  std::string buf(1 << 20, '\0');
  while (len > 0) {
    size_t want = static_cast<size_t>(std::min<int64_t>(len, static_cast<int64_t>(buf.size())));
    ssize_t n = ::pread(in, buf.data(), want, in_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, what);
    }
    if (n == 0)
      return MakeError(ErrorKind::kIo, std::string(what) + ": source shorter than expected");
    auto w = PwriteAll(out, buf.data(), static_cast<size_t>(n), out_off, what);
    if (!w) return std::move(w).error();
    in_off += n;
    out_off += n;
    len -= n;
  }
  return Ok();
}

}  // namespace

Result<void> CopyRange(int in, int64_t in_off, int out, int64_t out_off, int64_t len,
                       std::string_view what) {
  loff_t src = in_off, dst = out_off;
  while (len > 0) {
    ssize_t n = ::copy_file_range(in, &src, out, &dst, static_cast<size_t>(len), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
          errno == EBADF || errno == EPERM) {
        return CopyByReadWrite(in, src, out, dst, len, what);
      }
      return ErrnoError(errno, what);
    }
    if (n == 0) return CopyByReadWrite(in, src, out, dst, len, what);
    len -= n;
  }
  return Ok();
}

Result<void> SyncFile(int fd, std::string_view what) {
  if (::fdatasync(fd) != 0) return ErrnoError(errno, what);
  return Ok();
}

Result<int64_t> AppendSynced(const std::string& path, std::string_view data,
                             const std::vector<std::string>& dirs) {
  auto fd = OpenFile(path, O_RDWR | O_CREAT);
  if (!fd) return std::move(fd).error();
  auto size = FileSize(fd->get(), "stat " + path);
  if (!size) return std::move(size).error();
  auto r = PwriteAll(fd->get(), data.data(), data.size(), *size, "append to " + path);
  if (r) r = SyncFile(fd->get(), "fsync " + path);
  for (const std::string& dir : dirs) {
    if (r) r = SyncDir(dir);
  }
  if (!r) {
    (void)!::ftruncate(fd->get(), *size);
    return std::move(r).error();
  }
  return *size + static_cast<int64_t>(data.size());
}

Result<void> SyncDir(const std::string& dir) {
  auto fd = OpenFile(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return std::move(fd).error();
  if (::fsync(fd->get()) != 0) return ErrnoError(errno, "fsync " + dir);
  return Ok();
}

Result<int64_t> FileSize(int fd, std::string_view what) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, what);
  return static_cast<int64_t>(st.st_size);
}

LineReader::LineReader(int fd, int64_t end, std::string what)
    : fd_(fd), end_(end), what_(std::move(what)), buf_(1 << 20, '\0') {}

Result<bool> LineReader::Next(std::string_view* line, int64_t* offset) {
  size_t scan_from = begin_;
  for (;;) {
    if (scan_from < fill_) {
      const void* nl = std::memchr(buf_.data() + scan_from, '\n', fill_ - scan_from);
      if (nl != nullptr) {
        size_t pos = static_cast<const char*>(nl) - buf_.data();
        *line = std::string_view(buf_.data() + begin_, pos - begin_);
        *offset = file_pos_ - static_cast<int64_t>(fill_ - begin_);
        begin_ = pos + 1;
        return true;
      }
    }
    if (file_pos_ >= end_) {
      if (begin_ == fill_) return false;
      *line = std::string_view(buf_.data() + begin_, fill_ - begin_);
      *offset = file_pos_ - static_cast<int64_t>(fill_ - begin_);
      begin_ = fill_;
      return true;
    }
    // Keep the partial line, make room, read more.
    size_t partial = fill_ - begin_;
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, partial);
      begin_ = 0;
      fill_ = partial;
    }
    if (fill_ == buf_.size()) buf_.resize(buf_.size() * 2);
    scan_from = fill_;
    size_t want = std::min<size_t>(buf_.size() - fill_, static_cast<size_t>(end_ - file_pos_));
    ssize_t n = ::pread(fd_, buf_.data() + fill_, want, file_pos_);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read " + what_);
    }
    if (n == 0) {
      end_ = file_pos_;  // file shorter than expected: stop at what exists
      continue;
    }
    fill_ += static_cast<size_t>(n);
    file_pos_ += n;
  }
}

BufferedWriter::BufferedWriter(int fd, std::string what, size_t capacity)
    : fd_(fd), what_(std::move(what)), capacity_(capacity) {
  buf_.reserve(capacity_);
}

Result<void> BufferedWriter::Add(std::string_view a, std::string_view b) {
  if (buf_.size() + a.size() + b.size() > capacity_) {
    if (auto r = Flush(); !r) return r;
  }
  buf_.append(a);
  buf_.append(b);
  written_ += static_cast<int64_t>(a.size() + b.size());
  return Ok();
}

Result<void> BufferedWriter::Flush() {
  auto r = WriteAll(fd_, buf_.data(), buf_.size(), "write " + what_);
  buf_.clear();
  return r;
}

}  // namespace p2p::store
