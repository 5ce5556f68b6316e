// NdjsonStore::PublishJob / EndJob (contract in resource_store.h, layout in ndjson_store.h): a
// job's staged files join <Type>.ndjson as one block per type, so that readers of the file see
// the job's lines all at once; its staged tombstones follow (store_delete.cpp).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "store/ndjson_store.h"
#include "store/staged_file.h"

namespace p2p::store {

namespace {

constexpr int64_t kCopyChunk = 8 << 20;  // start the disk writeback of the copy this often

Error Prefixed(Error e) { return std::move(e).Context("ndjson store"); }

// Copies [0, len) of `in` to `out` at `at` in chunks, starting each chunk's writeback as it goes
// and waiting for the chunk three behind (the dirty pages stay bounded, the final fdatasync has
// little left), as the writers do (writeback.h).
Result<void> CopyWithWriteback(int in, int out, int64_t at, int64_t len, const std::string& what) {
  for (int64_t done = 0; done < len;) {
    const int64_t n = std::min(len - done, kCopyChunk);
    if (auto r = CopyRange(in, done, out, at + done, n, what); !r) return r;
    (void)::sync_file_range(out, at + done, n, SYNC_FILE_RANGE_WRITE);
    if (done >= 3 * kCopyChunk) {
      (void)::sync_file_range(
          out, at + done - 3 * kCopyChunk, kCopyChunk,
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    }
    done += n;
  }
  return Ok();
}

struct Staged {
  int file_index = 0;
  UniqueFd fd;
  StagedFile file;
};

}  // namespace

Result<std::vector<StoreMark>> NdjsonStore::PublishJob(int64_t job_id) {
  if (pending_) {  // a publication never ended (its caller failed): it was not recorded
    auto undo = Unpublish(*pending_);
    pending_.reset();
    if (!undo) return std::move(undo).error();
  }
  const std::string dir = StagingDir(job_id);
  std::vector<Staged> staged;
  bool tombstones = false;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr && errno != ENOENT) return Prefixed(ErrnoError(errno, "opendir " + dir));
  while (d != nullptr) {
    struct dirent* e = ::readdir(d);
    if (e == nullptr) break;
    std::string_view name = e->d_name;
    if (name == "deleted") tombstones = true;
    const size_t dot = name.find(".ndjson");
    if (dot == std::string_view::npos || dot + 7 != name.size()) continue;
    int index = 0;
    auto [p, ec] = std::from_chars(name.data(), name.data() + dot, index);
    if (ec != std::errc() || p != name.data() + dot) continue;
    staged.push_back(Staged{index, UniqueFd(), StagedFile()});
  }
  if (d != nullptr) ::closedir(d);
  std::sort(staged.begin(), staged.end(),
            [](const Staged& a, const Staged& b) { return a.file_index < b.file_index; });
  // Every staged file of a job whose files are all done was committed whole (its footer says so).
  std::map<std::string, std::vector<Staged*>> by_type;
  for (Staged& s : staged) {
    const std::string path = dir + "/" + std::to_string(s.file_index) + ".ndjson";
    auto fd = OpenFile(path, O_RDONLY);
    if (!fd) return Prefixed(std::move(fd).error());
    auto file = ReadStagedFile(fd->get(), path);
    if (!file) return Prefixed(std::move(file).error());
    s.fd = std::move(*fd);
    s.file = std::move(*file);
    if (s.file.data_len > 0) by_type[s.file.type].push_back(&s);
  }
  for (auto& [type, f] : files_) {  // types the job wrote in place only
    if (f.tail_job == job_id) by_type[type];
  }

  PendingPublish pending;
  pending.job_id = job_id;
  std::vector<StoreMark> marks;
  auto fail = [&](Error e) -> Error {
    (void)Unpublish(pending);  // Recover() would cut the same at the next start
    return e;
  };
  for (const auto& [type, files] : by_type) {
    auto tf = FilesFor(type);
    if (!tf) return fail(std::move(tf).error());
    TypeFiles& f = **tf;
    if (f.tail_job != job_id) {  // another job's lines are in place: they move to its staging
      if (auto r = Evict(f); !r) return fail(std::move(r).error());
    }
    Before before;
    before.ends = StoreMark{type, f.ndjson_end, f.index_end, -1};
    before.in_place = f.tail_job == job_id;
    before.tail_end = f.tail_end;
    before.tail_index = f.tail_index;
    pending.before.push_back(std::move(before));
    const std::string ndjson_path = PathOf(type, ".ndjson"), index_path = PathOf(type, ".index");
    // The job's in-place files are already in place (synced at their commits).
    int64_t at = f.tail_job == job_id ? f.tail_end : f.ndjson_end;
    std::string index = f.tail_job == job_id ? f.tail_index : std::string();
    for (Staged* s : files) {
      auto r = CopyWithWriteback(s->fd.get(), f.ndjson.get(), at, s->file.data_len,
                                 "append to " + ndjson_path);
      if (!r) return fail(Prefixed(std::move(r).error()));
      for (IndexEntry e : s->file.entries) {
        e.start += at;
        e.end += at;
        index += FormatIndexLine(e);
      }
      at += s->file.data_len;
    }
    Result<void> r = Ok();
    if (!files.empty()) r = SyncFile(f.ndjson.get(), "fsync " + ndjson_path);
    if (r)
      r = PwriteAll(f.index.get(), index.data(), index.size(), f.index_end,
                    "append to " + index_path);
    if (r) r = SyncFile(f.index.get(), "fsync " + index_path);
    if (!r) return fail(Prefixed(std::move(r).error()));
    f.ndjson_end = at;
    f.index_end += static_cast<int64_t>(index.size());
    f.tail_job = 0;
    f.tail_end = at;
    f.tail_index.clear();
    marks.push_back(StoreMark{type, f.ndjson_end, f.index_end, -1});
  }
  if (tombstones) {
    if (auto r = PublishTombstones(job_id, marks, pending); !r) return fail(std::move(r).error());
  }
  pending_ = std::make_unique<PendingPublish>(std::move(pending));
  return marks;
}

Result<void> NdjsonStore::EndJob(int64_t job_id, JobEnd end) {
  Result<void> undo = Ok();
  if (pending_ && pending_->job_id == job_id) {
    if (end != JobEnd::kRecorded) undo = Unpublish(*pending_);
    pending_.reset();
  }
  if (end == JobEnd::kTakeBack) return undo;
  if (end == JobEnd::kDrop) {  // its lines in place go too
    for (auto& [type, f] : files_) {
      if (f.tail_job != job_id) continue;
      if (::ftruncate(f.ndjson.get(), f.ndjson_end) != 0 && undo) {
        undo = Prefixed(ErrnoError(errno, "truncate " + PathOf(type, ".ndjson")));
      }
      f.tail_job = 0;
      f.tail_end = f.ndjson_end;
      f.tail_index.clear();
    }
  }
  // Published and recorded, or void: the staging goes. Its removal need not be durable: at the
  // next start Recover() drops the staging of any job that is not downloading.
  auto removed = RemoveDirFiles(StagingDir(job_id));
  if (!undo) return undo;
  if (!removed) return Prefixed(std::move(removed).error());
  return Ok();
}

Result<void> NdjsonStore::Unpublish(const PendingPublish& p) {
  Result<void> first = Ok();
  auto note = [&](Result<void> r) {
    if (!r && first) first = Prefixed(std::move(r).error());
  };
  auto cut = [](int fd, int64_t end, const std::string& path) -> Result<void> {
    if (::ftruncate(fd, end) != 0) return ErrnoError(errno, "truncate " + path);
    return Ok();
  };
  for (const Before& b : p.before) {
    const StoreMark& m = b.ends;
    if (m.ndjson_end >= 0) {
      auto it = files_.find(m.type);
      if (it == files_.end()) continue;
      TypeFiles& f = it->second;
      // The job's lines in place stay where they were, its tail again.
      note(cut(f.ndjson.get(), b.in_place ? b.tail_end : m.ndjson_end, PathOf(m.type, ".ndjson")));
      note(cut(f.index.get(), m.index_end, PathOf(m.type, ".index")));
      f.ndjson_end = m.ndjson_end;
      f.index_end = m.index_end;
      f.tail_job = b.in_place ? p.job_id : 0;
      f.tail_end = b.in_place ? b.tail_end : m.ndjson_end;
      f.tail_index = b.in_place ? b.tail_index : std::string();
    }
    if (m.deleted_end >= 0) {
      const std::string path = PathOf(m.type, ".deleted");
      if (::truncate(path.c_str(), m.deleted_end) != 0) note(ErrnoError(errno, "truncate " + path));
    }
  }
  return first;
}

}  // namespace p2p::store
