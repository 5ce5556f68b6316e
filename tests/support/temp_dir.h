// TempDir: a fresh directory under $TMPDIR (or /tmp) for one test, removed with everything in
// it when the object dies. Not thread-safe; move-only.
#pragma once

#include <filesystem>
#include <string>

namespace p2p::testing {

class TempDir {
 public:
  // Creates "<tmp>/<prefix>XXXXXX"; aborts the test process if the directory cannot be made.
  explicit TempDir(const std::string& prefix = "p2p-test-");
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace p2p::testing
