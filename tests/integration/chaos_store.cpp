#include "integration/chaos_store.h"

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "store/index_line.h"
#include "store/line_id.h"
#include "support/child_process.h"
#include "support/sandbox_process.h"

namespace p2p::testing {

namespace fs = std::filesystem;

ReadOnlyDb::~ReadOnlyDb() {
  if (db_ != nullptr) sqlite3_close(db_);
}

bool ReadOnlyDb::Open(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    error_ = "cannot open " + path;
    return false;
  }
  sqlite3_busy_timeout(db_, 5000);
  return true;
}

bool ReadOnlyDb::Query(const std::string& sql, const std::function<void(sqlite3_stmt*)>& fn) {
  if (db_ == nullptr) return false;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    error_ = sqlite3_errmsg(db_);
    return false;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) fn(st);
  if (rc != SQLITE_DONE) error_ = sqlite3_errmsg(db_);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE;
}

std::string ColumnText(sqlite3_stmt* st, int i) {
  const unsigned char* p = sqlite3_column_text(st, i);
  return p == nullptr ? ""
                      : std::string(reinterpret_cast<const char*>(p),
                                    static_cast<size_t>(sqlite3_column_bytes(st, i)));
}

namespace {

uint64_t Hash(std::string_view s) { return std::hash<std::string_view>{}(s); }

void Add(StoreSnapshot& snap, const std::string& type, std::string member, std::string id,
         std::string_view json, std::string source) {
  StoredEntry& e = snap.entries[type][{std::move(member), std::move(id)}];
  if (e.copies++ == 0) {
    e.first_source = std::move(source);
  } else if (source == e.first_source) {
    ++snap.duplicated;
  } else {
    ++snap.rekick_copies;
  }
  e.hash = Hash(json);
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

StoreSnapshot LoadSqliteSnapshot(const std::string& path, std::string* error) {
  StoreSnapshot snap;
  ReadOnlyDb db;
  if (!db.Open(path)) {
    *error = db.error();
    return snap;
  }
  std::vector<std::string> tables;
  db.Query("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'",
           [&](sqlite3_stmt* st) { tables.push_back(ColumnText(st, 0)); });
  for (const std::string& t : tables) {
    bool ok = db.Query("SELECT member_key, id, json FROM \"" + t + "\"", [&](sqlite3_stmt* st) {
      std::string json = ColumnText(st, 2);
      // Every row is a distinct copy: a second row of one (member, id) is a duplicate.
      Add(snap, t, ColumnText(st, 0), ColumnText(st, 1), json, "row");
    });
    if (!ok) *error = path + ": " + t + ": " + db.error();
  }
  return snap;
}

StoreSnapshot LoadPostgresSnapshot(const test::PgCluster& pg, const std::string& schema,
                                   std::string* error) {
  StoreSnapshot snap;
  // md5 of jsonb's own text form: the same resource gives the same text in two schemas.
  auto rows = PgStoreRows(pg, schema, "md5(resource::text)", error);
  if (!rows) return snap;
  for (PgStoreRow& r : *rows)
    Add(snap, r.type, std::move(r.member_key), std::move(r.id), r.extra, "row");
  return snap;
}

StoreSnapshot LoadNdjsonSnapshot(const std::string& dir, const std::string& state_path,
                                 std::string* integrity) {
  StoreSnapshot snap;
  *integrity = "ok";
  auto complain = [&](std::string what) {
    if (*integrity == "ok") *integrity = std::move(what);
  };
  std::map<std::string, std::pair<int64_t, int64_t>> marks;
  ReadOnlyDb db;
  if (db.Open(state_path)) {
    db.Query("SELECT type, ndjson_end, index_end FROM store_marks", [&](sqlite3_stmt* st) {
      marks[ColumnText(st, 0)] = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2)};
    });
  }
  simdjson::dom::parser parser;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    if (de.path().extension() != ".ndjson") continue;
    const std::string type = de.path().stem().string();
    const std::string body = ReadAll(de.path());
    const std::string index_text = ReadAll(fs::path(dir) / (type + ".index"));
    auto mark = marks.find(type);
    if (mark == marks.end() || mark->second.first != static_cast<int64_t>(body.size()) ||
        mark->second.second != static_cast<int64_t>(index_text.size())) {
      complain(type + ".ndjson: size " + std::to_string(body.size()) +
               " is not its committed mark");
    }
    std::vector<store::IndexEntry> ranges;
    int64_t expect_start = 0;
    for (size_t pos = 0; pos < index_text.size();) {
      size_t nl = index_text.find('\n', pos);
      if (nl == std::string::npos) {
        complain(type + ".index: incomplete last line");
        break;
      }
      auto e = store::ParseIndexLine(std::string_view(index_text).substr(pos, nl - pos));
      if (!e) {
        complain(type + ".index:" + std::to_string(pos) + ": malformed line");
      } else {
        if (e->start != expect_start || e->end <= e->start) {
          complain(type + ".index:" + std::to_string(pos) + ": range does not follow the last one");
        }
        expect_start = e->end;
        ranges.push_back(std::move(*e));
      }
      pos = nl + 1;
    }
    if (expect_start != static_cast<int64_t>(body.size())) {
      complain(type + ".index: ranges end at " + std::to_string(expect_start) + ", file at " +
               std::to_string(body.size()));
    }
    store::RangeCursor cursor(ranges);
    for (size_t pos = 0; pos < body.size();) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string::npos) {
        complain(type + ".ndjson:" + std::to_string(pos) + ": incomplete last line");
        break;
      }
      std::string_view line = std::string_view(body).substr(pos, nl - pos);
      simdjson::dom::element doc;
      auto id = store::ExtractTopLevelId(line);
      const store::IndexEntry* e = cursor.At(static_cast<int64_t>(pos));
      if (parser.parse(line.data(), line.size()).get(doc) || !id) {
        complain(type + ".ndjson:" + std::to_string(pos) + ": line is not a resource");
      } else if (e == nullptr) {
        complain(type + ".ndjson:" + std::to_string(pos) + ": line outside every index range");
      } else {
        Add(snap, type, e->member_key, std::string(*id), line,
            std::to_string(e->job_id) + ":" + std::to_string(e->file_index) + ":" + e->tx_time);
      }
      pos = nl + 1;
    }
  }
  return snap;
}

void CompareSnapshots(const Expected& want, const StoreSnapshot& got, const StoreSnapshot& clean,
                      int64_t* resources, int64_t* lost, int64_t* extra, int64_t* mismatched,
                      int64_t* clean_diffs, std::string* problems) {
  static const std::map<std::pair<std::string, std::string>, StoredEntry> kNone;
  auto of = [](const StoreSnapshot& s, const std::string& type) -> const auto& {
    auto it = s.entries.find(type);
    return it == s.entries.end() ? kNone : it->second;
  };
  int shown = 0;
  auto note = [&](const std::string& line) {
    if (shown++ < 8) *problems += "\n" + line;
  };
  *resources = 0;
  for (const auto& [type, keys] : want.resources) {
    const auto& g = of(got, type);
    *resources += static_cast<int64_t>(keys.size());
    for (const auto& k : keys) {
      if (g.count(k) == 0) {
        ++*lost;
        note("lost " + type + " " + k.second + " of " + k.first);
      }
    }
  }
  for (const auto& [type, entries] : got.entries) {
    auto w = want.resources.find(type);
    const auto& c = of(clean, type);
    for (const auto& [k, e] : entries) {
      if (w == want.resources.end() || w->second.count(k) == 0) {
        ++*extra;
        note("extra " + type + " " + k.second + " of " + k.first);
      }
      auto ce = c.find(k);
      if (ce == c.end()) {
        ++*clean_diffs;
      } else if (ce->second.hash != e.hash) {
        ++*mismatched;
        note("content differs from the clean run: " + type + " " + k.second);
      }
    }
  }
  for (const auto& [type, entries] : clean.entries) {
    const auto& g = of(got, type);
    for (const auto& [k, e] : entries) {
      if (g.count(k) == 0) ++*clean_diffs;
    }
  }
}

int64_t CompactAndCountDuplicates(const DaemonHarness& h, std::string* error) {
  CommandResult r = RunCommand(IngestdExecutable(), {"compact", "--config", h.config_path()},
                               std::chrono::seconds(60));
  if (r.exit_code != 0) {
    *error = "p2p-ingestd compact exited " + std::to_string(r.exit_code) + ": " + r.err;
    return -1;
  }
  std::string integrity;
  StoreSnapshot after = LoadNdjsonSnapshot(h.store_path(), h.state_path(), &integrity);
  if (integrity != "ok") {
    *error = "after compact: " + integrity;
    return -1;
  }
  return after.duplicated + after.rekick_copies;
}

}  // namespace p2p::testing
