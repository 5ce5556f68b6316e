// The files of a shared inbox that one daemon instance has claimed, so that several daemons
// given the same source.path never take a file twice.
//   A file is claimed by rename(2) from source.path into this instance's claim directory
//   source.path/claimed/<instance-id>/ (0700). Within one file system the rename is atomic: of
//   instances renaming the same file exactly one wins; the others get ENOENT and leave it. The
//   rename keeps the file's name, size and mtime, which key the state DB's resume-mid-file record.
//   A file stays claimed until it is finished (moved to processed/), so an instance restarted
//   with the same id finds its unfinished files here and resumes them. Files claimed by an
//   instance that never comes back wait for it until an operator moves them back into
//   source.path (README, "Several daemons on one inbox"); Abandoned() finds them.
//   While the object lives it holds a lock on claimed/<id>/.lock (fs_ops.h FileLock): a second
//   daemon with the same instance id on the same inbox is refused, and other instances can tell
//   that this one is running.
//
// Ownership: owns the lock. Threading: one thread (the daemon's loop). Fallible calls return kIo
// with the path, except where said.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "source/fs_ops.h"

namespace p2p::source {

// Another instance's claim directory holding files it claimed long ago, while it does not run.
struct AbandonedClaims {
  std::string instance;       // its instance id (the directory's name)
  std::filesystem::path dir;  // source.path/claimed/<instance>
  size_t files = 0;
  std::chrono::seconds oldest{0};  // since the oldest of them was claimed
};

class InboxClaims {
 public:
  // `inbox`: source.path; `instance_id`: instance.id (validated by Prepare).
  InboxClaims(std::filesystem::path inbox, std::string instance_id);

  // Creates claimed/ and claimed/<id>/ (0700) and takes the lock. kInvalid when the id is not
  // a valid instance.id, or another running daemon holds this claim directory.
  Result<void> Prepare();

  // The files this instance has claimed and not finished, in name order.
  Result<std::vector<std::filesystem::path>> Held() const;

  // Claims source.path/<name>. true: claimed; false: gone (another instance was first), or a
  // file of that name is already held here (the caller claims it once that one is finished).
  Result<bool> Claim(const std::string& name);

  // Makes the claims so far durable (fsync of both directories).
  Result<void> Sync() const;

  // Other instances' claim directories holding files claimed at least `min_age` ago whose
  // instance is not running (its lock is free, or cannot be tested). Unreadable entries are
  // skipped: this is advice for the operator.
  std::vector<AbandonedClaims> Abandoned(std::chrono::seconds min_age) const;

  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& root() const { return claimed_; }

 private:
  std::filesystem::path inbox_, claimed_, dir_;
  std::string instance_id_;
  std::optional<FileLock> lock_;
};

}  // namespace p2p::source
