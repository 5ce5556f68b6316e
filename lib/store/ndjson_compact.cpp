// NdjsonStore::Compact(): one line per (payer, id), last committed wins (see ndjson_store.h).
// Two sequential passes over <Type>.ndjson: the first finds each (payer, id)'s last line (memory:
// one hash entry per distinct resource; an offline operation), the second writes the kept lines
// and one index range per original range still non-empty to .tmp/, then renames over the originals.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "store/index_line.h"
#include "store/line_id.h"
#include "store/ndjson_store.h"

namespace p2p::store {

namespace {
Error Prefixed(Error e) { return std::move(e).Context("ndjson store"); }
}  // namespace

Result<std::map<std::string, StoreMark>> NdjsonStore::Compact() {
  files_.clear();
  auto types = TypesOnDisk();
  if (!types) return std::move(types).error();
  std::map<std::string, StoreMark> marks;
  for (const auto& [type, unused] : *types) {
    auto mark = CompactType(type);
    if (!mark) return std::move(mark).error();
    marks[type] = *mark;
  }
  return marks;
}

Result<StoreMark> NdjsonStore::CompactType(const std::string& type) {
  const std::string ndjson_path = PathOf(type, ".ndjson"), index_path = PathOf(type, ".index");
  auto in = OpenFile(ndjson_path, O_RDONLY | O_CREAT);
  auto idx = OpenFile(index_path, O_RDONLY | O_CREAT);
  if (!in) return Prefixed(std::move(in).error());
  if (!idx) return Prefixed(std::move(idx).error());
  auto in_size = FileSize(in->get(), "stat " + ndjson_path);
  auto idx_size = FileSize(idx->get(), "stat " + index_path);
  if (!in_size) return Prefixed(std::move(in_size).error());
  if (!idx_size) return Prefixed(std::move(idx_size).error());
  auto entries = ReadIndexFile(idx->get(), *idx_size, index_path);
  if (!entries) return Prefixed(std::move(entries).error());

  // Pass 1: which lines are live: the last of their (payer, id), not tombstoned
  // (store_delete.cpp).
  auto live = LiveLines(type, in->get(), *in_size, *entries);
  if (!live) return std::move(live).error();
  const std::vector<bool>& keep = *live;

  // Pass 2: write the kept lines and one index range per original range still non-empty.
  const std::string tmp_ndjson = tmp_dir_ + "/compact-" + type + ".ndjson";
  const std::string tmp_index = tmp_dir_ + "/compact-" + type + ".index";
  auto out = OpenFile(tmp_ndjson, O_WRONLY | O_CREAT | O_TRUNC);
  auto out_idx = OpenFile(tmp_index, O_WRONLY | O_CREAT | O_TRUNC);
  if (!out) return Prefixed(std::move(out).error());
  if (!out_idx) return Prefixed(std::move(out_idx).error());
  BufferedWriter lines(out->get(), tmp_ndjson), ranges(out_idx->get(), tmp_index);
  LineReader reader(in->get(), *in_size, ndjson_path);
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
  std::string_view line;
  int64_t offset = 0;
  for (size_t n = 0;; ++n) {
    auto more = reader.Next(&line, &offset);
    if (!more) return Prefixed(std::move(more).error());
    if (!*more) break;
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
    }
  }
  if (auto r = close_segment(); !r) return Prefixed(std::move(r).error());
  for (auto* o : {&lines, &ranges}) {
    if (auto r = o->Flush(); !r) return Prefixed(std::move(r).error());
  }
  if (auto r = SyncFile(out->get(), "fsync " + tmp_ndjson); !r)
    return Prefixed(std::move(r).error());
  if (auto r = SyncFile(out_idx->get(), "fsync " + tmp_index); !r)
    return Prefixed(std::move(r).error());
  // The two renames are not atomic together; Compact() is an offline operation and the caller
  // records the returned marks right after.
  if (::rename(tmp_ndjson.c_str(), ndjson_path.c_str()) != 0) {
    return Prefixed(ErrnoError(errno, "rename " + tmp_ndjson));
  }
  if (::rename(tmp_index.c_str(), index_path.c_str()) != 0) {
    return Prefixed(ErrnoError(errno, "rename " + tmp_index));
  }
  if (auto r = SyncDir(dir_); !r) return Prefixed(std::move(r).error());
  // Every tombstone is applied now: the log starts over (the caller records deleted_end = 0).
  if (::truncate(PathOf(type, ".deleted").c_str(), 0) != 0 && errno != ENOENT) {
    return Prefixed(ErrnoError(errno, "truncate " + PathOf(type, ".deleted")));
  }
  return StoreMark{type, lines.written(), ranges.written(), 0};
}

}  // namespace p2p::store
