#include "source/inbox_claims.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <system_error>
#include <utility>

#include "config/config.h"

namespace p2p::source {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLockName = ".lock";

}  // namespace

InboxClaims::InboxClaims(fs::path inbox, std::string instance_id)
    : inbox_(std::move(inbox)),
      claimed_(inbox_ / "claimed"),
      dir_(claimed_ / instance_id),
      instance_id_(std::move(instance_id)) {}

Result<void> InboxClaims::Prepare() {
  if (!ValidInstanceId(instance_id_)) {
    return MakeError(ErrorKind::kInvalid,
                     "instance.id \"" + instance_id_ + "\" cannot name a claim directory");
  }
  if (auto r = EnsureDir(claimed_); !r) return r;
  if (auto r = EnsureDir(dir_); !r) return r;
  if (lock_ && lock_->held()) return Ok();
  auto lock = FileLock::TryLock(dir_ / kLockName);
  if (!lock) {
    if (lock.error().kind != ErrorKind::kBusy) return std::move(lock).error();
    return MakeError(ErrorKind::kInvalid,
                     dir_.string() + " is in use by another running p2p-ingestd with instance.id " +
                         instance_id_ +
                         "; every daemon sharing an inbox needs its own instance.id");
  }
  lock_.emplace(std::move(lock).value());
  return Ok();
}

Result<std::vector<fs::path>> InboxClaims::Held() const {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec) return IoError("list", dir_, ec.value());
  for (const fs::directory_entry& entry : it) {
    std::error_code type_ec;
    if (IsMemberFileName(entry.path().filename().string()) && entry.is_regular_file(type_ec)) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<bool> InboxClaims::Claim(const std::string& name) {
  const fs::path from = inbox_ / name;
  const fs::path to = dir_ / name;
  // RENAME_NOREPLACE never replaces a file held here under the same name. File systems without
  // it (NFS) get a plain rename after a check, which is as safe: only this instance (the lock
  // says so) adds files to this directory.
  int rc = ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
    struct stat st {};
    if (::lstat(to.c_str(), &st) == 0) return false;
    rc = ::rename(from.c_str(), to.c_str());
  }
  if (rc == 0) return true;
  // ENOENT: another instance renamed it first. (On NFS a retransmitted rename whose first try
  // succeeded also answers ENOENT: the file is then here, and Held() finds it on the next pass.)
  if (errno == ENOENT || errno == EEXIST) return false;
  return IoError("claim", from, errno);
}

Result<void> InboxClaims::Sync() const {
  if (auto r = SyncDir(dir_); !r) return r;
  return SyncDir(inbox_);
}

std::vector<AbandonedClaims> InboxClaims::Abandoned(std::chrono::seconds min_age) const {
  std::vector<AbandonedClaims> out;
  std::error_code ec;
  fs::directory_iterator instances(claimed_, ec);
  if (ec) return out;
  const std::time_t now = std::time(nullptr);
  for (const fs::directory_entry& instance : instances) {
    std::error_code type_ec;
    if (instance.path() == dir_ || !instance.is_directory(type_ec)) continue;
    auto running = FileLock::IsHeld(instance.path() / kLockName);
    if (running && *running) continue;  // a live instance minds its own files
    AbandonedClaims a{instance.path().filename().string(), instance.path()};
    fs::directory_iterator files(instance.path(), ec);
    if (ec) continue;
    for (const fs::directory_entry& file : files) {
      struct stat st {};
      if (!IsMemberFileName(file.path().filename().string()) ||
          ::stat(file.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        continue;
      }
      // The rename that claimed the file set its ctime (its mtime is still the producer's).
      const std::chrono::seconds age{std::max<std::time_t>(0, now - st.st_ctime)};
      if (age < min_age) continue;
      a.files += 1;
      a.oldest = std::max(a.oldest, age);
    }
    if (a.files > 0) out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](const AbandonedClaims& x, const AbandonedClaims& y) {
    return x.instance < y.instance;
  });
  return out;
}

}  // namespace p2p::source
