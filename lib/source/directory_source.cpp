#include "source/directory_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "core/duration.h"
#include "source/fs_ops.h"

namespace p2p::source {
namespace {

namespace fs = std::filesystem;

constexpr uintmax_t kMaxFileBytes = uintmax_t{1} << 30;  // 1 GiB

bool IsNdjson(std::string_view name) { return name.ends_with(".ndjson"); }

// A writer that fills a file in place (no temporary name, no rename) may still be at it.
// Linux refuses a read lease (EAGAIN) on a file that any process has open for writing, which
// answers exactly that; the lease is dropped at once. The lease-break signal is set to SIGURG
// (ignored by default) so that a writer opening the file in that instant cannot kill the daemon.
// Where leases are refused for another reason (a file owned by another user, a network file
// system), a file that changed within the last kSettleSeconds and does not end with a newline is
// taken to be still in writing.
constexpr int64_t kSettleSeconds = 2;

bool StillBeingWritten(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;  // gone or unreadable: Read() reports it
  bool writing = false;
  if (::fcntl(fd, F_SETSIG, SIGURG) == 0 && ::fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
    ::fcntl(fd, F_SETLEASE, F_UNLCK);
  } else if (errno == EAGAIN) {
    writing = true;
  } else {
    struct stat st {};
    char last = '\n';
    if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 &&
        last != '\n') {
      writing = ::time(nullptr) - st.st_mtime < kSettleSeconds;
    }
  }
  ::close(fd);
  return writing;
}

// Writes `content` to `path` (mode 0600) through a temporary name and a rename.
Result<void> WriteFileAtomically(const fs::path& path, std::string_view content) {
  fs::path tmp = path;
  tmp += ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create", tmp, errno);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError("write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return IoError("fsync", tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("rename", tmp, err);
  }
  return Ok();
}

std::string FormatProblems(std::string_view name, const std::vector<RowProblem>& problems) {
  std::string out;
  for (const RowProblem& p : problems) {
    out += name;
    out += ':';
    out += std::to_string(p.line);
    out += ": ";
    if (!p.field.empty()) {
      out += p.field;
      out += ": ";
    }
    out += p.reason;
    out += '\n';
  }
  return out;
}

}  // namespace

DirectorySource::DirectorySource(const SourceOptions& options,
                                 std::vector<std::string> known_payers, std::string instance_id)
    : options_(options),
      known_payers_(std::move(known_payers)),
      root_(options.path),
      processed_(root_ / "processed"),
      rejected_(root_ / "rejected"),
      claims_(root_, std::move(instance_id)) {}

Result<void> DirectorySource::Prepare() {
  if (root_.empty()) return MakeError(ErrorKind::kIo, "source.path is empty");
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return IoError("mkdir", root_, ec.value());
  if (!fs::is_directory(root_, ec)) return IoError("not a directory:", root_, ENOTDIR);
  if (::access(root_.c_str(), R_OK | W_OK | X_OK) != 0) return IoError("access", root_, errno);
  if (auto r = EnsureDir(processed_); !r) return r;
  if (auto r = EnsureDir(rejected_); !r) return r;
  if (auto r = claims_.Prepare(); !r) return r;
  ReportAbandoned();
  return Ok();
}

void DirectorySource::ReportAbandoned() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_abandoned_report_) return;
  next_abandoned_report_ = now + std::chrono::hours(1);
  for (const AbandonedClaims& a : claims_.Abandoned(kAbandonedAfter)) {
    const auto age = std::chrono::floor<std::chrono::minutes>(a.oldest);
    Warn(a.dir.string() + " holds " + std::to_string(a.files) + " member file(s) claimed up to " +
         FormatDuration(age) + " ago by instance " + a.instance +
         ", which is not running: they wait for it; if it will not come back, move them into " +
         root_.string() + " (README: several daemons on one inbox)");
  }
}

Result<std::vector<fs::path>> DirectorySource::ListReady() {
  ReportAbandoned();
  auto held = claims_.Held();
  if (!held) return held;
  std::set<std::string> holding;
  for (const fs::path& p : *held) holding.insert(p.filename().string());
  std::vector<std::string> ready;
  std::error_code ec;
  fs::directory_iterator it(root_, ec);
  if (ec) return IoError("list", root_, ec.value());
  for (const fs::directory_entry& entry : it) {
    std::string name = entry.path().filename().string();
    if (!IsMemberFileName(name) || holding.count(name) != 0) continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;  // subdirectories, sockets, dangling links
    if (StillBeingWritten(entry.path())) continue;  // taken on a later scan
    ready.push_back(std::move(name));
  }
  std::sort(ready.begin(), ready.end());
  std::set<std::string> unclaimable;
  bool claimed = false;
  for (const std::string& name : ready) {
    auto c = claims_.Claim(name);
    if (!c) {
      if (unclaimable_.count(name) == 0) {
        Warn(c.error().message + "; the file stays in the inbox until it can be claimed");
      }
      unclaimable.insert(name);
      continue;
    }
    claimed = claimed || *c;
  }
  unclaimable_ = std::move(unclaimable);
  if (!claimed) return held;
  if (auto r = claims_.Sync(); !r) return std::move(r).error();
  return claims_.Held();
}

Result<void> DirectorySource::CheckReadable() const {
  std::error_code ec;
  fs::directory_iterator it(root_, ec);
  if (ec) return IoError("list", root_, ec.value());
  return Ok();
}

Result<ParsedMembers> DirectorySource::Read(const fs::path& file) const {
  ParsedMembers parsed;
  std::unordered_map<std::string, uint64_t> first;
  if (auto r = Visit(file, CollectInto(parsed, first)); !r) return std::move(r).error();
  return parsed;
}

Result<MemberFileIdentity> DirectorySource::Identify(const fs::path& file) const {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", file, errno);
  struct stat st {};
  const int rc = ::fstat(fd, &st);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("stat", file, err);
  return MemberFileIdentity{static_cast<int64_t>(st.st_size),
                            static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                                st.st_mtim.tv_nsec};
}

// Pages behind the parse are released in steps of this size: the mapped part of the file that
// counts in the daemon's RSS stays under it (plus one row).
constexpr size_t kReleaseStep = size_t{4} << 20;

Result<void> DirectorySource::Visit(const fs::path& file, const RowVisitor& visitor) const {
  const std::string name = file.filename().string();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", file, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError("stat", file, err);
  }
  if (static_cast<uintmax_t>(st.st_size) > kMaxFileBytes) {
    ::close(fd);
    visitor.problem(RowProblem{0, "", "file larger than 1 GiB"});
    return Ok();
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = nullptr;
  if (size > 0) {
    map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return IoError("map", file, err);
    }
    (void)::madvise(map, size, MADV_SEQUENTIAL);
  }
  ::close(fd);
  const std::string_view text(static_cast<const char*>(map), size);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t released = 0;
  RowVisitor streaming = visitor;
  streaming.row = [&](uint64_t line, MemberRow&& row, size_t consumed) -> Result<void> {
    if (consumed >= released + kReleaseStep) {
      const size_t upto = consumed / page * page;
      (void)::madvise(static_cast<char*>(map) + released, upto - released, MADV_DONTNEED);
      released = upto;
    }
    return visitor.row(line, std::move(row), consumed);
  };
  auto r = IsNdjson(name) ? VisitMemberNdjson(text, known_payers_, streaming)
                          : VisitMemberCsv(text, known_payers_, streaming);
  if (map != nullptr) ::munmap(map, size);
  return r;
}

// Finishing instances choose processed/ names one at a time; one waits this long for its turn.
constexpr auto kFinishTurnWait = std::chrono::milliseconds(500);

Result<void> DirectorySource::Finish(const fs::path& file,
                                     const std::vector<RowProblem>& problems) const {
  const std::string name = file.filename().string();
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    if (ec) return IoError("stat", file, ec.value());
    return Ok();  // already moved by an earlier call
  }
  // Another instance finishing a file of the same name could choose the same free name: the
  // later rename would replace the earlier file. The lock makes the choice and the move one step.
  const auto give_up = std::chrono::steady_clock::now() + kFinishTurnWait;
  auto turn = FileLock::TryLock(claims_.root() / ".processed.lock");
  while (!turn && turn.error().kind == ErrorKind::kBusy &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    turn = FileLock::TryLock(claims_.root() / ".processed.lock");
  }
  if (!turn) return std::move(turn).error();
  // The target name is chosen first so that the errors file and the processed file agree
  // ("x.csv" -> processed/x.csv.1 and rejected/x.csv.1.errors on a clash).
  std::string target = name;
  for (int i = 1; fs::exists(processed_ / target, ec); ++i) {
    target = name + "." + std::to_string(i);
  }
  if (ec) return IoError("stat", processed_ / target, ec.value());
  if (!problems.empty()) {
    if (auto r = WriteFileAtomically(rejected_ / (target + ".errors"),
                                     FormatProblems(name, problems));
        !r) {
      return r;
    }
    if (auto r = SyncDir(rejected_); !r) return r;
  }
  // The file holds PHI: whatever mode the producer gave it, the kept copy is the owner's only.
  // Best effort: a file owned by someone else keeps its mode (chmod needs ownership).
  (void)::chmod(file.c_str(), 0600);
  if (::rename(file.c_str(), (processed_ / target).c_str()) != 0) {
    return IoError("move", file, errno);
  }
  if (auto r = SyncDir(processed_); !r) return r;
  return SyncDir(file.parent_path());
}

}  // namespace p2p::source
