// Small POSIX file-system helpers of the directory source (directory_source.cpp,
// inbox_claims.cpp): directories made and synced, and the locks that keep daemons sharing an
// inbox apart. Errors are kIo with "<what> <path>: <strerror>" unless said otherwise.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/result.h"

namespace p2p::source {

Error IoError(std::string_view what, const std::filesystem::path& path, int err);

// A member file's name: *.csv or *.ndjson, not a dotfile, not "~..." and not a temporary name
// (*.tmp, *.part) that a writer may still be filling.
bool IsMemberFileName(std::string_view name);

// Creates `dir` with mode 0700 when it is missing; kIo when it cannot, or is no directory.
Result<void> EnsureDir(const std::filesystem::path& dir);

// fsync(2) of a directory, so that a rename into or out of it survives a power cut.
Result<void> SyncDir(const std::filesystem::path& dir);

// An open-file-description write lock (fcntl F_OFD_SETLK) on a whole lock file, created 0600 if
// missing. Held until the object dies, also released by the kernel when the process dies. Two
// objects conflict even within one process; on NFS the lock is the server's (NLM / NFSv4), so it
// holds across hosts. Move-only.
class FileLock {
 public:
  // kBusy when another holder has it. A file system without locks gives an object that holds
  // nothing (held() false): the callers then go on unguarded. kIo when the file cannot be opened.
  static Result<FileLock> TryLock(const std::filesystem::path& file);
  // Whether some process holds the lock on `file` now (F_OFD_GETLK: nothing is taken). kIo when
  // the file cannot be opened (e.g. it does not exist) or locks are not supported there.
  static Result<bool> IsHeld(const std::filesystem::path& file);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  bool held() const { return held_; }

 private:
  FileLock(int fd, bool held) : fd_(fd), held_(held) {}
  int fd_ = -1;
  bool held_ = false;
};

}  // namespace p2p::source
