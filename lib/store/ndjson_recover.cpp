// NdjsonStore::Recover() (contract in resource_store.h): at start, before any write, the store is
// put back to what the state DB recorded. In order: an interrupted compaction is finished or
// undone (ndjson_compact.cpp); the in-place files of jobs still downloading are copied into
// staged files (they are past the marks); every type's .ndjson, .index and .deleted are cut to
// their marks; the staging of jobs that are no longer downloading goes; so do the temporary
// files of an older version of the store (.tmp/).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "store/ndjson_store.h"
#include "store/type_name.h"

namespace p2p::store {

namespace {

constexpr char kPrefix[] = "ndjson store";

Error Prefixed(Error e) { return std::move(e).Context(kPrefix); }

// Cuts `path` to `target` bytes; kIo when it is shorter (the marks say more was committed).
Result<void> CutTo(const std::string& path, int64_t target) {
  auto fd = OpenIfExists(path, O_RDWR);
  if (!fd) return Prefixed(std::move(fd).error());
  int64_t size = 0;
  if (fd->valid()) {
    auto s = FileSize(fd->get(), "stat " + path);
    if (!s) return Prefixed(std::move(s).error());
    size = *s;
  }
  if (size < target) {
    return MakeError(ErrorKind::kIo,
                     std::string(kPrefix) + ": " + path + " is shorter (" + std::to_string(size) +
                         " bytes) than its committed mark (" + std::to_string(target) + " bytes)");
  }
  if (size == target) return Ok();
  if (::ftruncate(fd->get(), target) != 0) return Prefixed(ErrnoError(errno, "truncate " + path));
  if (auto r = SyncFile(fd->get(), "fsync " + path); !r) return Prefixed(std::move(r).error());
  return Ok();
}

// Names in `dir` (without . and ..); an absent `dir` has none.
Result<std::vector<std::string>> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;
    return Prefixed(ErrnoError(errno, "opendir " + dir));
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  return names;
}

}  // namespace

Result<void> NdjsonStore::StageInPlaceFiles(int64_t job_id,
                                            const std::map<std::string, StoreMark>& committed) {
  const std::string dir = StagingDir(job_id);
  auto names = List(dir);
  if (!names) return std::move(names).error();
  constexpr std::string_view kPrefixName = "inplace-", kSuffix = ".index";
  for (const std::string& name : *names) {
    if (name.size() <= kPrefixName.size() + kSuffix.size() || name.rfind(kPrefixName, 0) != 0 ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    const std::string type =
        name.substr(kPrefixName.size(), name.size() - kPrefixName.size() - kSuffix.size());
    std::string journal = dir;
    journal += '/';
    journal += name;
    if (IsResourceTypeName(type)) {
      auto jfd = OpenFile(journal, O_RDONLY);
      if (!jfd) return Prefixed(std::move(jfd).error());
      auto size = FileSize(jfd->get(), "stat " + journal);
      if (!size) return Prefixed(std::move(size).error());
      std::string text;
      LineReader reader(jfd->get(), *size, journal);
      std::string_view line;
      int64_t offset = 0;
      for (;;) {
        auto more = reader.Next(&line, &offset);
        if (!more) return Prefixed(std::move(more).error());
        if (!*more) break;
        if (offset + static_cast<int64_t>(line.size()) >= *size) break;  // no '\n': cut
        text.append(line);
        text += '\n';
      }
      auto data = OpenIfExists(PathOf(type, ".ndjson"), O_RDONLY);
      if (!data) return Prefixed(std::move(data).error());
      auto it = committed.find(type);
      const int64_t from = it == committed.end() ? 0 : std::max<int64_t>(it->second.ndjson_end, 0);
      if (data->valid() && !text.empty()) {
        if (auto r = StageInPlace(job_id, type, data->get(), text, from); !r) return r;
      }
    }
    if (::unlink(journal.c_str()) != 0 && errno != ENOENT) {
      return Prefixed(ErrnoError(errno, "remove " + journal));
    }
  }
  return Ok();
}

Result<void> NdjsonStore::Recover(const std::map<std::string, StoreMark>& committed,
                                  const std::set<int64_t>& staging_jobs) {
  pending_.reset();
  files_.clear();
  for (const auto& [type, mark] : committed) {
    if (auto v = ValidateResourceType(type); !v) return Prefixed(std::move(v).error());
  }
  if (auto r = RecoverCompactions(committed); !r) return r;
  auto staged = List(staging_dir_);
  if (!staged) return std::move(staged).error();
  auto live = [&](const std::string& name, int64_t* job) {
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), *job);
    return ec == std::errc() && p == name.data() + name.size() && staging_jobs.count(*job) != 0;
  };
  for (const std::string& name : *staged) {
    int64_t job = 0;
    if (!live(name, &job)) continue;
    if (auto r = StageInPlaceFiles(job, committed); !r) return r;
  }
  auto types = TypesOnDisk();
  if (!types) return std::move(types).error();
  for (const auto& [type, mark] : committed) (*types)[type] = true;
  for (const auto& [type, unused] : *types) {
    auto it = committed.find(type);
    const StoreMark none;
    const StoreMark& m = it != committed.end() ? it->second : none;
    if (auto r = CutTo(PathOf(type, ".ndjson"), std::max<int64_t>(m.ndjson_end, 0)); !r) return r;
    if (auto r = CutTo(PathOf(type, ".index"), std::max<int64_t>(m.index_end, 0)); !r) return r;
    if (auto r = CutTo(PathOf(type, ".deleted"), std::max<int64_t>(m.deleted_end, 0)); !r) return r;
  }
  // Staged lines of a job that is not downloading any more (published, re-kicked, failed,
  // cancelled while the process was down) are void; those of a downloading job wait for its
  // publication (a file cut by the crash is written again before then: its row is not done).
  for (const std::string& name : *staged) {
    int64_t job = 0;
    if (live(name, &job)) continue;
    if (auto r = RemoveDirFiles(staging_dir_ + "/" + name); !r)
      return Prefixed(std::move(r).error());
  }
  // An older store wrote files being downloaded to .tmp/: never a committed byte.
  if (auto r = RemoveDirFiles(dir_ + "/.tmp"); !r) return Prefixed(std::move(r).error());
  return Ok();
}

}  // namespace p2p::store
