// The stores' POSIX file plumbing, kept in one place: an owning fd, whole writes with EINTR and
// short-write handling, range copies (copy_file_range with a read/write fallback), fsync of files
// and directories, and a chunked line reader. Errors come back as values whose message is
// "<what>: <strerror>"; ENOSPC, EDQUOT and EROFS are kDiskFull, everything else kIo.
// Threading: objects are not thread-safe; free functions are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace p2p::store {

// kDiskFull for ENOSPC/EDQUOT/EROFS, else kIo; message "<what>: <strerror(err)>".
Error ErrnoError(int err, std::string_view what);

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC; files are created 0600.
Result<UniqueFd> OpenFile(const std::string& path, int flags);
// OpenFile, but a missing file is an invalid fd, not an error.
Result<UniqueFd> OpenIfExists(const std::string& path, int flags);
// Removes the files in `dir` (not recursively), then `dir`; a missing `dir` is no error.
Result<void> RemoveDirFiles(const std::string& dir);
// Creates `path` and missing parents with `mode` (existing directories are left as they are).
Result<void> MakeDirs(const std::string& path, unsigned mode);

Result<void> WriteAll(int fd, const char* data, size_t size, std::string_view what);
Result<void> PwriteAll(int fd, const char* data, size_t size, int64_t offset,
                       std::string_view what);
// Copies [in_off, in_off + len) of `in` to `out` at `out_off` (no fd offsets are used or moved).
Result<void> CopyRange(int in, int64_t in_off, int out, int64_t out_off, int64_t len,
                       std::string_view what);
Result<void> SyncFile(int fd, std::string_view what);  // fdatasync
// Appends `data` to `path` (created if needed) and syncs it and then `dirs` (so that a new name
// is durable too); the new length. On failure the file is cut back to its old length.
Result<int64_t> AppendSynced(const std::string& path, std::string_view data,
                             const std::vector<std::string>& dirs);
Result<void> SyncDir(const std::string& dir);
Result<int64_t> FileSize(int fd, std::string_view what);

// Reads the lines of [0, end) of a file in large chunks. A line's view is valid until the next
// call. A final line without '\n' is still returned. Memory: one buffer, grown only for a line
// longer than it.
class LineReader {
 public:
  LineReader(int fd, int64_t end, std::string what);
  // True and the next line (without '\n') and its start offset; false at the end.
  Result<bool> Next(std::string_view* line, int64_t* offset);

 private:
  int fd_;
  int64_t end_;
  int64_t file_pos_ = 0;  // file offset of buf_[fill_]
  std::string what_;
  std::string buf_;
  size_t begin_ = 0, fill_ = 0;
};

// Sequential writes of a new file through one buffer of `capacity` bytes.
class BufferedWriter {
 public:
  BufferedWriter(int fd, std::string what, size_t capacity = 1 << 20);
  // Appends a then b (b: e.g. the line's "\n").
  Result<void> Add(std::string_view a, std::string_view b = {});
  Result<void> Flush();
  int64_t written() const { return written_; }

 private:
  int fd_;
  std::string what_;
  size_t capacity_;
  std::string buf_;
  int64_t written_ = 0;
};

}  // namespace p2p::store
