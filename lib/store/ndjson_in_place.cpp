// The in-place tail of the NDJSON store (ndjson_store.h): one job per type writes its files
// straight after the published end of <Type>.ndjson, journaled in its
// .staging/<job_id>/inplace-<Type>.index so that a restart can find them (Recover stages them),
// and is moved to staging when another job's publication needs the place (Evict, beside the
// writer in ndjson_store.cpp).
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "store/ndjson_store.h"
#include "store/staged_file.h"

namespace p2p::store {

namespace {

constexpr char kPrefix[] = "ndjson store";

Error Prefixed(Error e) { return std::move(e).Context(kPrefix); }

}  // namespace

std::string NdjsonStore::InPlaceJournal(int64_t job_id, const std::string& type) const {
  return StagingDir(job_id) + "/inplace-" + type + ".index";
}

Result<void> NdjsonStore::CommitInPlace(int64_t job_id, TypeFiles& f, int64_t base, int64_t len,
                                        const std::string& index_lines) {
  f.tail_writer = nullptr;
  if (!index_lines.empty()) {
    auto r = AppendSynced(InPlaceJournal(job_id, f.type), index_lines,
                          {StagingDir(job_id), staging_dir_});
    if (!r) {
      (void)!::ftruncate(f.ndjson.get(), base);
      return Prefixed(std::move(r).error());
    }
  }
  f.tail_end = base + len;
  f.tail_index += index_lines;
  return Ok();
}

Result<void> NdjsonStore::StageInPlace(int64_t job_id, const std::string& type, int fd,
                                       const std::string& index_lines, int64_t from) {
  // One staged file per file index: its index lines, rebased to its first byte.
  std::map<int, std::vector<IndexEntry>> files;
  for (size_t pos = 0; pos < index_lines.size();) {
    const size_t nl = index_lines.find('\n', pos);
    if (nl == std::string::npos) break;  // a journal line cut by a crash: not committed
    auto e = ParseIndexLine(std::string_view(index_lines).substr(pos, nl - pos));
    pos = nl + 1;
    if (!e) {
      return MakeError(ErrorKind::kIo, std::string(kPrefix) + ": " +
                                           InPlaceJournal(job_id, type) + ": malformed line");
    }
    if (e->start >= from) files[e->file_index].push_back(std::move(*e));
  }
  std::vector<std::string> made;
  auto fail = [&](Error e) -> Result<void> {
    for (const std::string& p : made) ::unlink(p.c_str());
    return Prefixed(std::move(e));
  };
  const std::string dir = StagingDir(job_id);
  for (auto& [index, entries] : files) {
    int64_t start = entries.front().start, end = entries.front().end;
    for (const IndexEntry& e : entries) {
      start = std::min(start, e.start);
      end = std::max(end, e.end);
    }
    std::string lines;
    for (IndexEntry e : entries) {
      e.start -= start;
      e.end -= start;
      lines += FormatIndexLine(e);
    }
    const std::string path = dir + "/" + std::to_string(index) + ".ndjson";
    auto out = OpenFile(path, O_RDWR | O_CREAT | O_TRUNC);
    if (!out) return fail(std::move(out).error());
    made.push_back(path);
    const std::string trailer = StagedTrailer(type, end - start, lines);
    auto r = CopyRange(fd, start, out->get(), 0, end - start, "copy to " + path);
    if (r) r = PwriteAll(out->get(), trailer.data(), trailer.size(), end - start, "write " + path);
    if (r) r = SyncFile(out->get(), "fsync " + path);
    if (!r) return fail(std::move(r).error());
  }
  if (auto r = SyncDir(dir); !r) return fail(std::move(r).error());
  return Ok();
}

}  // namespace p2p::store
