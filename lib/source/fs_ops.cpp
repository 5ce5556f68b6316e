#include "source/fs_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

namespace p2p::source {

namespace fs = std::filesystem;

Error IoError(std::string_view what, const fs::path& path, int err) {
  return MakeError(ErrorKind::kIo,
                   std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

bool IsMemberFileName(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.front() == '~') return false;
  if (name.ends_with(".tmp") || name.ends_with(".part")) return false;
  return name.ends_with(".csv") || name.ends_with(".ndjson");
}

Result<void> EnsureDir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return IoError("mkdir", dir, errno);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return IoError("not a directory:", dir, ENOTDIR);
  return Ok();
}

Result<void> SyncDir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("open", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("fsync", dir, err);
  return Ok();
}

namespace {

struct flock WholeFile(short type) {
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file; l_pid must be 0 for OFD
  return lock;
}

}  // namespace

Result<FileLock> FileLock::TryLock(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("open", file, errno);
  struct flock lock = WholeFile(F_WRLCK);
  if (::fcntl(fd, F_OFD_SETLK, &lock) == 0) return FileLock(fd, true);
  const int err = errno;
  if (err == EAGAIN || err == EACCES) {
    ::close(fd);
    return MakeError(ErrorKind::kBusy, file.string() + ": locked by another process");
  }
  return FileLock(fd, false);  // ENOLCK, EINVAL, EOPNOTSUPP: no locks on this file system
}

Result<bool> FileLock::IsHeld(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", file, errno);
  struct flock lock = WholeFile(F_WRLCK);
  const int rc = ::fcntl(fd, F_OFD_GETLK, &lock);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("lock test", file, err);
  return lock.l_type != F_UNLCK;
}

FileLock::FileLock(FileLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), held_(std::exchange(other.held_, false)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    held_ = std::exchange(other.held_, false);
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor of the description drops the lock
}

}  // namespace p2p::source
