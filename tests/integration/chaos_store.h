// Reading a finished run's resource store for the chaos test: every stored (type, member_key, id)
// with how many times it is stored and a hash of its JSON, read straight from the files (not
// through the store's own Scan, so a store bug cannot hide itself), plus the structural checks
// of the NDJSON store (complete lines that parse, index ranges that tile the file, files the length
// of their committed marks).
//
// Duplicates are split by cause. NDJSON: two lines of one (member, id) from the same export file
// (job, file index, transactionTime) are `duplicated` (the same file published twice: a crash
// safety bug); lines from different exports of the job (a re-kick after the files expired) are
// `rekick_copies`, which the store never writes (a re-kicked export's staged lines are dropped)
// and which only a run with refreshes may show. SQLite: any second row is `duplicated`.
// PostgreSQL: read by SQL as the superuser; its primary key (payer, id) makes a second row
// impossible, so `lost` is what tells a file's rows that never landed.
//
// Test code: throws nothing, reports problems in strings; not thread-safe.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "integration/daemon_harness.h"

namespace p2p::testing {

// A read-only SQLite connection that never checkpoints or recovers anything on close.
class ReadOnlyDb {
 public:
  ReadOnlyDb() = default;
  ~ReadOnlyDb();
  ReadOnlyDb(const ReadOnlyDb&) = delete;
  ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;
  bool Open(const std::string& path);
  // Runs `sql`, calling `fn` per row; false (and error()) when it does not prepare or fails.
  bool Query(const std::string& sql, const std::function<void(sqlite3_stmt*)>& fn);
  const std::string& error() const { return error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string error_;
};

std::string ColumnText(sqlite3_stmt* st, int i);

struct StoredEntry {
  int64_t copies = 0;
  uint64_t hash = 0;         // of the last copy's JSON
  std::string first_source;  // ndjson: "job:file:transactionTime" of the first copy
};

struct StoreSnapshot {
  // type -> (member_key, id) -> entry
  std::map<std::string, std::map<std::pair<std::string, std::string>, StoredEntry>> entries;
  int64_t duplicated = 0;
  int64_t rekick_copies = 0;
};

// *error set when the database cannot be read.
StoreSnapshot LoadSqliteSnapshot(const std::string& path, std::string* error);
// The type tables of `schema` in the cluster; *error set when psql fails. The hash is of
// md5(resource::text) (jsonb's normalized text), comparable between two PostgreSQL stores only.
StoreSnapshot LoadPostgresSnapshot(const test::PgCluster& pg, const std::string& schema,
                                   std::string* error);
// *integrity: "ok", or the first structural complaint (file:offset: what).
StoreSnapshot LoadNdjsonSnapshot(const std::string& dir, const std::string& state_path,
                                 std::string* integrity);

// Expected vs the chaos store (lost, extra) and the chaos store vs the clean one (mismatched
// content, clean_diffs: keys present in one only). Appends a few readable lines to *problems.
void CompareSnapshots(const Expected& want, const StoreSnapshot& got, const StoreSnapshot& clean,
                      int64_t* resources, int64_t* lost, int64_t* extra, int64_t* mismatched,
                      int64_t* clean_diffs, std::string* problems);

// Runs `p2p-ingestd compact` on the harness's NDJSON store (the daemon is stopped) and returns
// the raw lines per (member, id) above one that remain; -1 and *error on failure.
int64_t CompactAndCountDuplicates(const DaemonHarness& h, std::string* error);

}  // namespace p2p::testing
