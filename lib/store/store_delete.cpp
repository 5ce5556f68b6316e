// Deletions in both stores: deleted[] files (Delete) and consent purges (PurgeMember). Contract
// in resource_store.h. SqliteStore deletes rows; NdjsonStore is append-only and writes
// tombstones to <Type>.deleted (a job's deleted[] files: staged, written when the job is
// published), which Scan/CountByType/Compact honour through LiveLines().
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <utility>

#include "store/line_id.h"
#include "store/ndjson_store.h"
#include "store/sqlite_store.h"
#include "store/type_name.h"

namespace p2p::store {

namespace {

// Ids, payers and member keys written to a tombstone: 1..128 bytes of [A-Za-z0-9._-] (FHIR ids,
// payer ids and member keys all fit), so a tombstone line needs no escaping.
bool IsPlainToken(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

Result<void> CheckRefs(std::string_view payer, const std::vector<ResourceRef>& refs) {
  if (!IsPlainToken(payer)) return MakeError(ErrorKind::kInvalid, "delete: bad payer id");
  for (size_t i = 0; i < refs.size(); ++i) {
    if (auto v = ValidateResourceType(refs[i].type); !v) {
      return std::move(v).error().Context("delete: ref " + std::to_string(i));
    }
    if (!IsPlainToken(refs[i].id)) {
      return MakeError(ErrorKind::kInvalid,
                       "delete: ref " + std::to_string(i) + ": not a FHIR id");
    }
  }
  return Ok();
}

// Refs grouped by type, ids de-duplicated.
std::map<std::string, std::set<std::string>> ByType(const std::vector<ResourceRef>& refs) {
  std::map<std::string, std::set<std::string>> out;
  for (const ResourceRef& r : refs) out[r.type].insert(r.id);
  return out;
}

Error NdjsonPrefixed(Error e) { return std::move(e).Context("ndjson store"); }

std::string Key(std::string_view a, std::string_view b) {
  std::string k;
  k.reserve(a.size() + b.size() + 1);
  k.append(a);
  k += '\n';
  k.append(b);
  return k;
}

// Tombstones of one type: key -> the largest end recorded for it.
struct Tombstones {
  std::unordered_map<std::string, int64_t> resource;  // payer\nid
  std::unordered_map<std::string, int64_t> member;    // payer\nmember_key
  bool empty() const { return resource.empty() && member.empty(); }
};

Result<Tombstones> ReadTombstones(const std::string& path) {
  Tombstones t;
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd) {
    if (errno == ENOENT || ::access(path.c_str(), F_OK) != 0) return t;
    return std::move(fd).error();
  }
  auto size = FileSize(fd->get(), "stat " + path);
  if (!size) return std::move(size).error();
  LineReader reader(fd->get(), *size, "read " + path);
  std::string_view line;
  int64_t offset = 0;
  int64_t line_no = 0;
  for (;;) {
    auto more = reader.Next(&line, &offset);
    if (!more) return std::move(more).error();
    if (!*more) break;
    ++line_no;
    // "<R|M> <end> <payer> <key>"
    std::string_view f[4];
    size_t n = 0;
    while (n < 4 && !line.empty()) {
      size_t sp = line.find(' ');
      f[n++] = line.substr(0, sp);
      line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    }
    int64_t end = -1;
    bool ok = n == 4 && line.empty() && (f[0] == "R" || f[0] == "M") && !f[1].empty() &&
              std::all_of(f[1].begin(), f[1].end(), [](char c) { return c >= '0' && c <= '9'; });
    if (ok) end = std::stoll(std::string(f[1]));
    if (!ok || end < 0) {
      return MakeError(ErrorKind::kIo,
                       path + ":" + std::to_string(line_no) + ": malformed tombstone line");
    }
    auto& map = f[0] == "R" ? t.resource : t.member;
    int64_t& slot = map[Key(f[2], f[3])];
    slot = std::max(slot, end);
  }
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SqliteStore

Result<bool> SqliteStore::HasTable(std::string_view type) {
  if (tables_.find(type) != tables_.end()) return true;
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                              -1, &s, nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "list tables");
  sqlite3_bind_text64(s, 1, type.data(), type.size(), SQLITE_STATIC, SQLITE_UTF8);
  rc = Step(s);
  sqlite3_finalize(s);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlError(rc, "list tables");
}

Result<int64_t> SqliteStore::DeleteRows(
    std::string_view payer, std::string_view column,
    const std::vector<std::pair<std::string, std::string>>& type_keys) {
  // Rows other writers have in the open transaction are committed first (idempotent upserts).
  if (auto r = CommitOpen("delete: commit"); !r) return std::move(r).error();
  if (type_keys.empty()) return int64_t{0};
  int rc = Step(begin_);
  sqlite3_reset(begin_);
  if (rc != SQLITE_DONE) return SqlError(rc, "delete: begin");
  in_txn_ = true;
  txn_writer_ = nullptr;
  txn_shared_ = true;  // never rolled back by a writer's Abort()
  int64_t removed = 0;
  std::map<std::string, sqlite3_stmt*, std::less<>> stmts;
  auto finalize = [&] {
    for (auto& [t, s] : stmts) sqlite3_finalize(s);
  };
  for (const auto& [type, key] : type_keys) {
    sqlite3_stmt*& s = stmts[type];
    const std::string what = "table \"" + type + "\": delete";
    if (s == nullptr) {
      std::string sql = "DELETE FROM \"" + type + "\" WHERE payer = ?1 AND " +
                        std::string(column) + " = ?2";
      rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
      if (rc != SQLITE_OK) {
        Error e = SqlError(rc, what);
        finalize();
        sqlite3_step(rollback_);
        sqlite3_reset(rollback_);
        in_txn_ = false;
        return e;
      }
    }
    sqlite3_bind_text64(s, 1, payer.data(), payer.size(), SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_text64(s, 2, key.data(), key.size(), SQLITE_STATIC, SQLITE_UTF8);
    rc = Step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
      Error e = SqlError(rc, what);
      finalize();
      sqlite3_step(rollback_);
      sqlite3_reset(rollback_);
      in_txn_ = false;
      return e;
    }
    removed += sqlite3_changes64(db_);
  }
  finalize();
  if (auto r = CommitOpen("delete: commit"); !r) return std::move(r).error();
  return removed;
}

Result<DeleteOutcome> SqliteStore::Delete(std::string_view payer, int64_t /*job_id*/,
                                          const std::vector<ResourceRef>& refs) {
  if (auto v = CheckRefs(payer, refs); !v) return std::move(v).error().Context("sqlite store");
  // HasTable() reads the DB: the writer thread must be idle first (sqlite_store.h threading).
  if (auto q = Quiesce(); !q) return std::move(q).error();
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& [type, ids] : ByType(refs)) {
    auto has = HasTable(type);
    if (!has) return std::move(has).error();
    if (!*has) continue;  // nothing of this type stored
    for (const std::string& id : ids) keys.emplace_back(type, id);
  }
  auto removed = DeleteRows(payer, "id", keys);
  if (!removed) return std::move(removed).error();
  return DeleteOutcome{*removed, {}};
}

Result<DeleteOutcome> SqliteStore::PurgeMember(std::string_view payer,
                                               std::string_view member_key) {
  if (!IsPlainToken(payer) || !IsPlainToken(member_key)) {
    return MakeError(ErrorKind::kInvalid, "sqlite store: purge: bad payer id or member key");
  }
  auto counts = CountByType();  // lists the type tables
  if (!counts) return std::move(counts).error();
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& [type, n] : *counts) keys.emplace_back(type, std::string(member_key));
  auto removed = DeleteRows(payer, "member_key", keys);
  if (!removed) return std::move(removed).error();
  return DeleteOutcome{*removed, {}};
}

// ---------------------------------------------------------------------------------------------
// NdjsonStore

Result<int64_t> NdjsonStore::CommittedEnd(const std::string& type) {
  if (auto it = files_.find(type); it != files_.end()) return it->second.ndjson_end;
  const std::string path = PathOf(type, ".ndjson");
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd) {
    if (::access(path.c_str(), F_OK) != 0) return int64_t{0};
    return NdjsonPrefixed(std::move(fd).error());
  }
  auto size = FileSize(fd->get(), "stat " + path);
  if (!size) return NdjsonPrefixed(std::move(size).error());
  return *size;
}

Result<int64_t> NdjsonStore::AppendTombstones(const std::string& type, const std::string& lines) {
  auto end = AppendSynced(PathOf(type, ".deleted"), lines, {dir_});
  if (!end) return NdjsonPrefixed(std::move(end).error());
  return end;
}

Result<void> NdjsonStore::PublishTombstones(int64_t job_id, std::vector<StoreMark>& marks,
                                            PendingPublish& pending) {
  const std::string path = StagingDir(job_id) + "/deleted";
  auto fd = OpenIfExists(path, O_RDONLY);
  if (!fd) return NdjsonPrefixed(std::move(fd).error());
  if (!fd->valid()) return Ok();
  auto size = FileSize(fd->get(), "stat " + path);
  if (!size) return NdjsonPrefixed(std::move(size).error());
  // "<Type> <payer> <id>" per line (Delete with a job id), checked when it was staged.
  std::map<std::string, std::set<std::pair<std::string, std::string>>> by_type;
  LineReader reader(fd->get(), *size, path);
  std::string_view line;
  int64_t offset = 0;
  for (int64_t n = 1;; ++n) {
    auto more = reader.Next(&line, &offset);
    if (!more) return NdjsonPrefixed(std::move(more).error());
    if (!*more) break;
    const size_t a = line.find(' ');
    const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos || !IsResourceTypeName(line.substr(0, a)) ||
        !IsPlainToken(line.substr(a + 1, b - a - 1)) || !IsPlainToken(line.substr(b + 1))) {
      return MakeError(ErrorKind::kIo,
                       "ndjson store: " + path + ":" + std::to_string(n) + ": malformed line");
    }
    by_type[std::string(line.substr(0, a))].emplace(line.substr(a + 1, b - a - 1),
                                                    line.substr(b + 1));
  }
  for (const auto& entry : by_type) {
    const std::string& type = entry.first;  // named: clang 14 cannot capture a binding
    auto end = CommittedEnd(type);  // after this job's own lines: the deletions cover them
    if (!end) return std::move(end).error();
    if (*end == 0) continue;  // nothing of this type stored
    std::string lines;
    const std::string at = "R " + std::to_string(*end) + " ";
    for (const auto& [payer, id] : entry.second) {
      lines += at;
      lines += payer;
      lines += ' ';
      lines += id;
      lines += '\n';
    }
    auto new_end = AppendTombstones(type, lines);
    if (!new_end) return std::move(new_end).error();
    Before before;
    before.ends = StoreMark{type, -1, -1, *new_end - static_cast<int64_t>(lines.size())};
    pending.before.push_back(std::move(before));
    auto m = std::find_if(marks.begin(), marks.end(),
                          [&](const StoreMark& x) { return x.type == type; });
    if (m == marks.end()) m = marks.insert(marks.end(), StoreMark{type});
    m->deleted_end = *new_end;
  }
  return Ok();
}

Result<DeleteOutcome> NdjsonStore::Delete(std::string_view payer, int64_t job_id,
                                          const std::vector<ResourceRef>& refs) {
  if (auto v = CheckRefs(payer, refs); !v) return NdjsonPrefixed(std::move(v).error());
  DeleteOutcome out;
  if (job_id != 0) {  // staged with the job's lines, written by its PublishJob
    std::string lines;
    for (const auto& [type, ids] : ByType(refs)) {
      for (const std::string& id : ids) {
        lines += type;
        lines += ' ';
        lines.append(payer);
        lines += ' ';
        lines += id;
        lines += '\n';
        ++out.removed;
      }
    }
    if (lines.empty()) return out;
    const std::string dir = StagingDir(job_id);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return NdjsonPrefixed(ErrnoError(errno, "mkdir " + dir));
    }
    auto end = AppendSynced(dir + "/deleted", lines, {dir, staging_dir_});
    if (!end) return NdjsonPrefixed(std::move(end).error());
    return out;
  }
  for (const auto& [type, ids] : ByType(refs)) {
    auto end = CommittedEnd(type);
    if (!end) return std::move(end).error();
    if (*end == 0) continue;  // nothing of this type stored
    std::string lines;
    for (const std::string& id : ids) {
      lines += "R " + std::to_string(*end) + " ";
      lines.append(payer);
      lines += ' ';
      lines += id;
      lines += '\n';
    }
    auto new_end = AppendTombstones(type, lines);
    if (!new_end) return std::move(new_end).error();
    out.removed += static_cast<int64_t>(ids.size());
    StoreMark mark;
    mark.type = type;
    mark.deleted_end = *new_end;
    out.marks.push_back(std::move(mark));
  }
  return out;
}

Result<DeleteOutcome> NdjsonStore::PurgeMember(std::string_view payer,
                                               std::string_view member_key) {
  if (!IsPlainToken(payer) || !IsPlainToken(member_key)) {
    return MakeError(ErrorKind::kInvalid, "ndjson store: purge: bad payer id or member key");
  }
  auto types = TypesOnDisk();
  if (!types) return std::move(types).error();
  DeleteOutcome out;
  for (const auto& [type, unused] : *types) {
    int64_t count = 0;
    auto scanned = Scan(type, [&](const StoredResource& r) {
      if (r.payer == payer && r.member_key == member_key) ++count;
    });
    if (!scanned) return std::move(scanned).error();
    if (count == 0) continue;
    auto end = CommittedEnd(type);
    if (!end) return std::move(end).error();
    std::string line = "M " + std::to_string(*end) + " " + std::string(payer) + " " +
                       std::string(member_key) + "\n";
    auto new_end = AppendTombstones(type, line);
    if (!new_end) return std::move(new_end).error();
    out.removed += count;
    StoreMark mark;
    mark.type = type;
    mark.deleted_end = *new_end;
    out.marks.push_back(std::move(mark));
  }
  return out;
}

Result<bool> NdjsonStore::NeedsLiveFilter(const std::string& type,
                                          const std::vector<IndexEntry>& entries) {
  const std::string path = PathOf(type, ".deleted");
  auto fd = OpenFile(path, O_RDONLY);
  if (fd) {
    auto size = FileSize(fd->get(), "stat " + path);
    if (!size) return NdjsonPrefixed(std::move(size).error());
    if (*size > 0) return true;
  }
  // One export per (payer, member_key) and each of its files once: no id can repeat (a
  // re-kicked export's staged lines are dropped, never published).
  std::unordered_map<std::string, std::pair<int64_t, std::string>> exports;
  std::set<std::pair<int64_t, int>> files;
  for (const IndexEntry& e : entries) {
    auto [it, inserted] =
        exports.try_emplace(Key(e.payer, e.member_key), std::pair{e.job_id, e.tx_time});
    if (!inserted && (it->second.first != e.job_id || it->second.second != e.tx_time)) return true;
    if (!files.emplace(e.job_id, e.file_index).second) return true;
  }
  return false;
}

Result<std::vector<bool>> NdjsonStore::LiveLines(const std::string& type, int fd, int64_t end,
                                                 const std::vector<IndexEntry>& entries) {
  auto dead = ReadTombstones(PathOf(type, ".deleted"));
  if (!dead) return NdjsonPrefixed(std::move(dead).error());
  std::vector<bool> keep;
  std::unordered_map<std::string, size_t> last;
  LineReader reader(fd, end, PathOf(type, ".ndjson"));
  RangeCursor cursor(entries);
  std::string_view line;
  int64_t offset = 0;
  std::string key;
  for (;;) {
    auto more = reader.Next(&line, &offset);
    if (!more) return NdjsonPrefixed(std::move(more).error());
    if (!*more) break;
    keep.push_back(true);
    const IndexEntry* e = cursor.At(offset);
    const std::string_view payer = e ? std::string_view(e->payer) : std::string_view();
    if (e != nullptr && !dead->member.empty()) {
      auto m = dead->member.find(Key(payer, e->member_key));
      if (m != dead->member.end() && offset < m->second) keep.back() = false;
    }
    auto id = ExtractTopLevelId(line);
    if (!id) continue;  // cannot be matched to another line: kept as is
    key = Key(payer, *id);
    if (!dead->resource.empty()) {
      auto r = dead->resource.find(key);
      if (r != dead->resource.end() && offset < r->second) keep.back() = false;
    }
    auto [it, inserted] = last.try_emplace(key, keep.size() - 1);
    if (!inserted) {
      keep[it->second] = false;
      it->second = keep.size() - 1;
    }
  }
  return keep;
}

}  // namespace p2p::store
