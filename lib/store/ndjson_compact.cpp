// NdjsonStore::Compact(): one line per (payer, id), last published wins, tombstoned lines
// dropped (contract in resource_store.h). Per type, two sequential passes over <Type>.ndjson:
// the first finds the live lines (LiveLines, store_delete.cpp; memory: one hash entry per
// distinct resource, an offline operation), the second writes them, with one index range per
// original range still non-empty, to new files beside the old ones:
//
//   .<Type>.ndjson.compact, .<Type>.index.compact   the new files, synced
//   .<Type>.compact                                 the journal: "<ndjson bytes> <index bytes>\n"
//
// Then, in this order: the journal is synced (with the directory), the caller records the new
// marks durably, the new files are renamed over the old ones (index first), the directory is
// synced, <Type>.deleted is emptied and the journal removed. Each rename is atomic, so a reader
// of <Type>.ndjson sees the old file or the new one, never a mix. After a kill,
// RecoverCompactions() decides by the recorded marks: equal to the journal's sizes (and no
// tombstone mark) means the caller recorded them: the renames are finished; anything else means
// it did not: the new files go.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <charconv>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/index_line.h"
#include "store/line_id.h"
#include "store/ndjson_store.h"
#include "store/type_name.h"

namespace p2p::store {

namespace {

Error Prefixed(Error e) { return std::move(e).Context("ndjson store"); }

constexpr std::string_view kCompactSuffix = ".compact";

struct CompactPaths {
  std::string ndjson, index, new_ndjson, new_index, journal;
};

CompactPaths PathsOf(const std::string& dir, const std::string& type) {
  const std::string hidden = dir + "/." + type;
  return CompactPaths{dir + "/" + type + ".ndjson", dir + "/" + type + ".index",
                      hidden + ".ndjson.compact", hidden + ".index.compact", hidden + ".compact"};
}

// The journal's sizes; nullopt when it is absent or was cut before its sync.
std::optional<std::pair<int64_t, int64_t>> ReadJournal(const std::string& path) {
  auto fd = OpenIfExists(path, O_RDONLY);
  if (!fd || !fd->valid()) return std::nullopt;
  char buf[64];
  ssize_t n;
  do {
    n = ::pread(fd->get(), buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0 || buf[n - 1] != '\n') return std::nullopt;
  std::string_view text(buf, static_cast<size_t>(n - 1));
  const size_t sp = text.find(' ');
  int64_t a = -1, b = -1;
  if (sp == std::string_view::npos) return std::nullopt;
  auto [pa, ea] = std::from_chars(text.data(), text.data() + sp, a);
  auto [pb, eb] = std::from_chars(text.data() + sp + 1, text.data() + text.size(), b);
  if (ea != std::errc() || eb != std::errc() || pa != text.data() + sp ||
      pb != text.data() + text.size() || a < 0 || b < 0) {
    return std::nullopt;
  }
  return std::pair{a, b};
}

Result<void> Unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "remove " + path);
  return Ok();
}

Result<void> RenameIfThere(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(errno, "rename " + from);
  }
  return Ok();
}

// After the new marks are recorded: the new files replace the old ones and the tombstones, all
// applied now, go. Each step may already be done (a second run after a kill).
Result<void> Install(const std::string& dir, const std::string& type, const CompactPaths& p) {
  if (auto r = RenameIfThere(p.new_index, p.index); !r) return r;
  if (auto r = RenameIfThere(p.new_ndjson, p.ndjson); !r) return r;
  if (auto r = SyncDir(dir); !r) return r;
  const std::string deleted = dir + "/" + type + ".deleted";
  auto fd = OpenIfExists(deleted, O_RDWR);
  if (!fd) return std::move(fd).error();
  if (fd->valid()) {
    if (::ftruncate(fd->get(), 0) != 0) return ErrnoError(errno, "truncate " + deleted);
    if (auto r = SyncFile(fd->get(), "fsync " + deleted); !r) return r;
  }
  return Unlink(p.journal);
}

}  // namespace

Result<std::vector<CompactedType>> NdjsonStore::Compact(
    const std::function<Result<void>(const StoreMark&)>& record) {
  pending_.reset();
  files_.clear();
  auto types = TypesOnDisk();
  if (!types) return std::move(types).error();
  std::vector<CompactedType> out;
  for (const auto& [type, unused] : *types) {
    auto done = CompactType(type, record);
    if (!done) return std::move(done).error();
    out.push_back(std::move(*done));
  }
  return out;
}

Result<CompactedType> NdjsonStore::CompactType(
    const std::string& type, const std::function<Result<void>(const StoreMark&)>& record) {
  const CompactPaths p = PathsOf(dir_, type);
  files_.erase(type);  // its descriptors would name the old files after the renames
  auto in = OpenFile(p.ndjson, O_RDONLY | O_CREAT);
  auto idx = OpenFile(p.index, O_RDONLY | O_CREAT);
  if (!in) return Prefixed(std::move(in).error());
  if (!idx) return Prefixed(std::move(idx).error());
  auto in_size = FileSize(in->get(), "stat " + p.ndjson);
  auto idx_size = FileSize(idx->get(), "stat " + p.index);
  if (!in_size) return Prefixed(std::move(in_size).error());
  if (!idx_size) return Prefixed(std::move(idx_size).error());
  auto entries = ReadIndexFile(idx->get(), *idx_size, p.index);
  if (!entries) return Prefixed(std::move(entries).error());

  // Pass 1: which lines are live: the last of their (payer, id), not tombstoned.
  auto live = LiveLines(type, in->get(), *in_size, *entries);
  if (!live) return std::move(live).error();
  const std::vector<bool>& keep = *live;

  // Pass 2: write the kept lines and one index range per original range still non-empty.
  auto out = OpenFile(p.new_ndjson, O_WRONLY | O_CREAT | O_TRUNC);
  auto out_idx = OpenFile(p.new_index, O_WRONLY | O_CREAT | O_TRUNC);
  if (!out) return Prefixed(std::move(out).error());
  if (!out_idx) return Prefixed(std::move(out_idx).error());
  BufferedWriter lines(out->get(), p.new_ndjson), ranges(out_idx->get(), p.new_index);
  LineReader reader(in->get(), *in_size, p.ndjson);
  RangeCursor cursor(*entries);
  const IndexEntry* segment = nullptr;
  int64_t segment_start = 0;
  int64_t segment_lines = 0;
  bool segment_open = false;
  auto close_segment = [&]() -> Result<void> {
    if (!segment_open || lines.written() == segment_start) return Ok();
    IndexEntry e = segment ? *segment : IndexEntry{};
    e.start = segment_start;
    e.end = lines.written();
    e.lines = segment_lines;
    return ranges.Add(FormatIndexLine(e));
  };
  CompactedType stats{type, 0, 0, *in_size, 0};
  std::string_view line;
  int64_t offset = 0;
  for (size_t n = 0;; ++n) {
    auto more = reader.Next(&line, &offset);
    if (!more) return Prefixed(std::move(more).error());
    if (!*more) break;
    ++stats.lines_before;
    const IndexEntry* e = cursor.At(offset);
    if (!segment_open || e != segment) {
      if (auto r = close_segment(); !r) return Prefixed(std::move(r).error());
      segment = e;
      segment_start = lines.written();
      segment_lines = 0;
      segment_open = true;
    }
    if (keep[n]) {
      if (auto r = lines.Add(line, "\n"); !r) return Prefixed(std::move(r).error());
      ++segment_lines;
      ++stats.lines_after;
    }
  }
  if (auto r = close_segment(); !r) return Prefixed(std::move(r).error());
  for (auto* o : {&lines, &ranges}) {
    if (auto r = o->Flush(); !r) return Prefixed(std::move(r).error());
  }
  if (auto r = SyncFile(out->get(), "fsync " + p.new_ndjson); !r) {
    return Prefixed(std::move(r).error());
  }
  if (auto r = SyncFile(out_idx->get(), "fsync " + p.new_index); !r) {
    return Prefixed(std::move(r).error());
  }
  stats.bytes_after = lines.written();

  // The journal names the new files' sizes: from here on a kill is finished or undone by
  // RecoverCompactions(), depending on whether `record` committed the marks.
  const std::string journal =
      std::to_string(lines.written()) + " " + std::to_string(ranges.written()) + "\n";
  auto j = OpenFile(p.journal, O_WRONLY | O_CREAT | O_TRUNC);
  if (!j) return Prefixed(std::move(j).error());
  auto r = WriteAll(j->get(), journal.data(), journal.size(), "write " + p.journal);
  if (r) r = SyncFile(j->get(), "fsync " + p.journal);
  if (r) r = SyncDir(dir_);
  if (!r) return Prefixed(std::move(r).error());
  // A failed `record` may or may not have committed: the journal stays for Recover() to decide.
  if (auto rec = record(StoreMark{type, lines.written(), ranges.written(), 0}); !rec)
    return rec.error();
  if (auto i = Install(dir_, type, p); !i) return Prefixed(std::move(i).error());
  return stats;
}

Result<void> NdjsonStore::RecoverCompactions(const std::map<std::string, StoreMark>& committed) {
  std::set<std::string> types;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return Prefixed(ErrnoError(errno, "opendir " + dir_));
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() <= kCompactSuffix.size() + 1 || name[0] != '.' ||
        name.substr(name.size() - kCompactSuffix.size()) != kCompactSuffix) {
      continue;
    }
    name = name.substr(1, name.size() - 1 - kCompactSuffix.size());  // Type[.ndjson|.index]
    name = name.substr(0, name.find('.'));
    if (IsResourceTypeName(name)) types.emplace(name);
  }
  ::closedir(d);
  for (const std::string& type : types) {
    const CompactPaths p = PathsOf(dir_, type);
    auto sizes = ReadJournal(p.journal);
    auto it = committed.find(type);
    const bool recorded = sizes && it != committed.end() && it->second.ndjson_end == sizes->first &&
                          it->second.index_end == sizes->second && it->second.deleted_end <= 0;
    Result<void> r = Ok();
    if (recorded) {
      r = Install(dir_, type, p);
    } else {
      for (const std::string* path : {&p.new_ndjson, &p.new_index, &p.journal}) {
        if (r) r = Unlink(*path);
      }
    }
    if (!r) return Prefixed(std::move(r).error());
  }
  return Ok();
}

}  // namespace p2p::store
