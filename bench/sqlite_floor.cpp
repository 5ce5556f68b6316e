// sqlite_floor: the floor of benchmark target 1. How fast can raw SQLite upsert NDJSON lines into
// the SQLite store's schema (rowid table + UNIQUE (payer, id), one prepared statement, WAL,
// synchronous=NORMAL, one transaction per batch)? Then the same input through SqliteStore's
// FileWriter (Put/Commit) and the ratio, i.e. the store's overhead over raw SQLite.
//
//   sqlite_floor [--lines N] [--batch ROWS] [--type TYPE] [--dir DIR] [--only floor|store]
//                [--rounds R] [--page-size B] [--cache-kib K] [--no-thread] [FILE]
//
// --page-size and --cache-kib apply to both runs (default: SqliteStore's Tuning, so both use the
// same layout); --no-thread runs SqliteStore without its writer thread.
//
// FILE: NDJSON lines (e.g. one export file downloaded from p2p-sandbox). Without FILE, N (default
// 200000) synthetic ~1 KB lines are generated into DIR first. Both runs read the same file in
// 1 MiB chunks and find each id with the same cheap scanner; timings include the final commit
// and close (WAL checkpoint). Each run starts from an empty database; with --rounds R the runs
// alternate floor, store, floor, ... and the best of each is shown (the machines are noisy).
// Prints a table and exits 0 (1 on a usage or I/O error).
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "store/line_id.h"
#include "store/posix_file.h"
#include "store/sqlite_store.h"
#include "store/type_name.h"

namespace {

using p2p::store::ExtractTopLevelId;
using p2p::store::LineReader;

struct Config {
  int64_t lines = 200000;
  int64_t batch = 4096;
  std::string type = "Observation";
  std::string dir;
  std::string only;
  std::string file;
  int rounds = 1;
  bool threaded = true;  // SqliteStore's writer thread (Tuning::writer_thread)
  // Both runs: PRAGMA page_size (0: SQLite's default). The store's own by default, so that the
  // floor measures the same database layout.
  int page_size = p2p::store::SqliteStore::Tuning{}.page_size;
  int cache_kib = 0;     // both runs: PRAGMA cache_size=-N (0: SQLite's default)
};

struct RunResult {
  int64_t lines = 0, bytes = 0;
  double seconds = 0;
  bool ok = false;
};

bool Fail(const std::string& msg) {
  std::fprintf(stderr, "sqlite_floor: %s\n", msg.c_str());
  return false;
}

// Calls fn(line, id) for every line of `path`; false on an I/O error.
bool ForEachLine(const std::string& path,
                 const std::function<bool(std::string_view, std::string_view)>& fn, RunResult* r) {
  auto fd = p2p::store::OpenFile(path, O_RDONLY);
  if (!fd) return Fail(fd.error().message);
  auto size = p2p::store::FileSize(fd->get(), path);
  if (!size) return Fail(size.error().message);
  LineReader reader(fd->get(), *size, path);
  std::string_view line;
  int64_t offset;
  for (;;) {
    auto more = reader.Next(&line, &offset);
    if (!more) return Fail(more.error().message);
    if (!*more) break;
    if (line.empty()) continue;
    std::string_view id = ExtractTopLevelId(line).value_or(std::string_view());
    if (!fn(line, id)) return false;
    ++r->lines;
    r->bytes += static_cast<int64_t>(line.size()) + 1;
  }
  return true;
}

bool GenerateInput(const Config& cfg, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return Fail("cannot write " + path);
  std::string pad(700, 'x');
  for (int64_t i = 0; i < cfg.lines; ++i) {
    std::fprintf(f,
                 "{\"resourceType\":\"%s\",\"id\":\"obs-%08lld\",\"meta\":{\"lastUpdated\":"
                 "\"2024-01-02T03:04:05Z\"},\"status\":\"final\",\"code\":{\"coding\":[{\"system\":"
                 "\"http://loinc.org\",\"code\":\"%lld-1\"}]},\"subject\":{\"reference\":"
                 "\"Patient/p-%lld\"},\"valueQuantity\":{\"value\":%lld.5,\"unit\":\"mg\"},"
                 "\"note\":[{\"text\":\"%s\"}]}\n",
                 cfg.type.c_str(), static_cast<long long>(i), static_cast<long long>(i % 9973),
                 static_cast<long long>(i / 50), static_cast<long long>(i % 300), pad.c_str());
  }
  return std::fclose(f) == 0 || Fail("cannot write " + path);
}

bool Check(sqlite3* db, int rc, int want, const char* what) {
  if (rc == want) return true;
  return Fail(std::string(what) + ": " + sqlite3_errmsg(db));
}

RunResult RunFloor(const Config& cfg, const std::string& db_path) {
  RunResult r;
  auto start = std::chrono::steady_clock::now();
  sqlite3* db = nullptr;
  // The best raw SQLite can do: no connection mutex, write lock taken at BEGIN.
  if (sqlite3_open_v2(db_path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    Fail("open " + db_path);
    sqlite3_close(db);
    return r;
  }
  const std::string q = "\"" + cfg.type + "\"";
  std::string setup =
      (cfg.page_size > 0 ? "PRAGMA page_size=" + std::to_string(cfg.page_size) + ";" : "") +
      (cfg.cache_kib > 0 ? "PRAGMA cache_size=-" + std::to_string(cfg.cache_kib) + ";" : "") +
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
      "CREATE TABLE IF NOT EXISTS " +
      q +
      " (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, payer TEXT NOT NULL,"
      " member_key TEXT NOT NULL, tx_time TEXT, job_id INTEGER, json TEXT NOT NULL);"
      "CREATE UNIQUE INDEX IF NOT EXISTS \"" +
      cfg.type + "_payer_id\" ON " + q + "(payer, id);";
  sqlite3_stmt* up = nullptr;
  bool ok =
      Check(db, sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr), SQLITE_OK, "setup");
  std::string sql =
      "INSERT INTO " + q +
      " (id, payer, member_key, tx_time, job_id, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
      " ON CONFLICT(payer, id) DO UPDATE SET member_key = excluded.member_key,"
      " tx_time = excluded.tx_time, job_id = excluded.job_id, json = excluded.json";
  ok = ok && Check(db, sqlite3_prepare_v2(db, sql.c_str(), -1, &up, nullptr), SQLITE_OK, "prepare");
  int64_t in_batch = 0;
  ok = ok &&
       ForEachLine(
           cfg.file,
           [&](std::string_view line, std::string_view id) {
             if (in_batch == 0 &&
                 !Check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
                        SQLITE_OK, "begin")) {
               return false;
             }
             sqlite3_bind_text(up, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
             sqlite3_bind_text(up, 2, "bison", 5, SQLITE_STATIC);
             sqlite3_bind_text(up, 3, "m-1", 3, SQLITE_STATIC);
             sqlite3_bind_text(up, 4, "2024-01-02T03:04:05Z", 20, SQLITE_STATIC);
             sqlite3_bind_int64(up, 5, 1);
             sqlite3_bind_text(up, 6, line.data(), static_cast<int>(line.size()), SQLITE_STATIC);
             int rc = sqlite3_step(up);
             sqlite3_reset(up);
             if (!Check(db, rc, SQLITE_DONE, "upsert")) return false;
             if (++in_batch == cfg.batch) {
               in_batch = 0;
               return Check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK,
                            "commit");
             }
             return true;
           },
           &r);
  if (ok && in_batch > 0) {
    ok = Check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK, "commit");
  }
  sqlite3_finalize(up);
  sqlite3_close(db);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.ok = ok;
  return r;
}

RunResult RunStore(const Config& cfg, const std::string& db_path) {
  RunResult r;
  auto start = std::chrono::steady_clock::now();
  p2p::store::SqliteStore::Tuning tuning;
  tuning.batch_rows = cfg.batch;
  tuning.writer_thread = cfg.threaded;
  tuning.page_size = cfg.page_size;
  tuning.cache_kib = cfg.cache_kib;
  auto store = p2p::store::SqliteStore::Open(db_path, tuning);
  if (!store) {
    Fail(store.error().message);
    return r;
  }
  p2p::store::FileContext ctx{"bison", "m-1", 1, 0, cfg.type, "2024-01-02T03:04:05Z"};
  auto writer = (*store)->Begin(ctx);
  if (!writer) {
    Fail(writer.error().message);
    return r;
  }
  bool ok = ForEachLine(
      cfg.file,
      [&](std::string_view line, std::string_view id) {
        auto put = (*writer)->Put(id, line);
        return put.ok() || Fail(put.error().message);
      },
      &r);
  if (ok) {
    auto mark = (*writer)->Commit();
    ok = mark.ok() || Fail(mark.error().message);
  }
  writer->reset();
  store->reset();  // closes: the WAL checkpoint is timed too, as in the floor
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.ok = ok;
  return r;
}

void PrintRow(const char* name, const RunResult& r) {
  double mb = static_cast<double>(r.bytes) / 1e6;
  std::printf("%-6s %10lld %9.1f %9.2f %9.1f %12.0f\n", name, static_cast<long long>(r.lines), mb,
              r.seconds, mb / r.seconds, static_cast<double>(r.lines) / r.seconds);
}

void Usage() {
  std::fprintf(stderr,
               "usage: sqlite_floor [--lines N] [--batch ROWS] [--type TYPE] [--dir DIR]"
               " [--only floor|store] [--rounds R] [--page-size B] [--cache-kib K]"
               " [--no-thread] [FILE]\n");
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--lines" && has_value) {
      cfg.lines = std::atoll(argv[++i]);
    } else if (a == "--batch" && has_value) {
      cfg.batch = std::atoll(argv[++i]);
    } else if (a == "--type" && has_value) {
      cfg.type = argv[++i];
    } else if (a == "--dir" && has_value) {
      cfg.dir = argv[++i];
    } else if (a == "--rounds" && has_value) {
      cfg.rounds = std::atoi(argv[++i]);
    } else if (a == "--page-size" && has_value) {
      cfg.page_size = std::atoi(argv[++i]);
    } else if (a == "--cache-kib" && has_value) {
      cfg.cache_kib = std::atoi(argv[++i]);
    } else if (a == "--no-thread") {
      cfg.threaded = false;
    } else if (a == "--only" && has_value) {
      cfg.only = argv[++i];
    } else if (!a.empty() && a[0] != '-' && cfg.file.empty()) {
      cfg.file = a;
    } else {
      Usage();
      return 1;
    }
  }
  if (cfg.lines <= 0 || cfg.batch <= 0 || cfg.rounds <= 0 ||
      !p2p::store::IsResourceTypeName(cfg.type) ||
      (!cfg.only.empty() && cfg.only != "floor" && cfg.only != "store")) {
    Usage();
    return 1;
  }
  bool own_dir = cfg.dir.empty();
  if (own_dir) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sqlite-floor-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return Fail("mkdtemp"), 1;
    cfg.dir = tmpl;
  } else if (auto made = p2p::store::MakeDirs(cfg.dir, 0700); !made) {
    return Fail(made.error().message), 1;
  }
  int rc = 0;
  if (cfg.file.empty()) {
    cfg.file = cfg.dir + "/input.ndjson";
    if (!GenerateInput(cfg, cfg.file)) rc = 1;
  }
  RunResult floor, store;
  auto fresh = [&](const std::string& name) {
    std::string db = cfg.dir + "/" + name;
    for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((db + suffix).c_str());
    return db;
  };
  auto keep_best = [](RunResult* best, const RunResult& r) {
    if (!best->ok || r.seconds < best->seconds) *best = r;
  };
  for (int round = 0; rc == 0 && round < cfg.rounds; ++round) {
    if (cfg.only != "store") {
      RunResult r = RunFloor(cfg, fresh("floor.db"));
      if (!r.ok) rc = 1;
      keep_best(&floor, r);
    }
    if (rc == 0 && cfg.only != "floor") {
      RunResult r = RunStore(cfg, fresh("store.db"));
      if (!r.ok) rc = 1;
      keep_best(&store, r);
    }
  }
  if (rc == 0) {
    std::printf("sqlite floor vs SqliteStore: %s, batch %lld rows, type %s, best of %d\n",
                cfg.file.c_str(), static_cast<long long>(cfg.batch), cfg.type.c_str(), cfg.rounds);
    std::printf("%-6s %10s %9s %9s %9s %12s\n", "run", "lines", "MB", "seconds", "MB/s",
                "resources/s");
    if (floor.ok) PrintRow("floor", floor);
    if (store.ok) PrintRow("store", store);
    if (floor.ok && store.ok) {
      double ratio = (static_cast<double>(store.bytes) / store.seconds) /
                     (static_cast<double>(floor.bytes) / floor.seconds);
      std::printf("ratio store/floor throughput: %.2f (target >= 0.80)\n", ratio);
    }
  }
  if (own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(cfg.dir, ec);
  }
  return rc;
}
