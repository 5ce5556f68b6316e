#include "integration/chaos_run.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include "integration/chaos_store.h"
#include "support/http_client.h"
#include "support/pg_cluster.h"

namespace p2p::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ChaosFaultSpec() {
  // Moderate rates: every kind is met many times in a small run, and a member still gets through
  // within retry.max_attempts (30) and the re-kick budgets. Expired files (410) and failed
  // exports come at the rates seen at real payers (about 2 %): each is a re-kick, whose
  // re-downloaded files must not double a line of the NDJSON store.
  return "token:503@0.05,token:expire=500ms,match:500@0.05,match:429@0.05:retry-after=1,"
         "match:badjson@0.03,match:reset@0.02,export:503@0.05,export:reset@0.03,"
         "export:badjson@0.03,job:500@0.05,job:429@0.05:retry-after=date,job:badjson@0.03,"
         "job:fail@0.02,file:cut@0.05,file:reset@0.03,file:410@0.02,file:404@every350,"
         "file:badjson@0.05,file:503@0.05,any:delay=20ms@0.05";
}

std::string ChaosFigures::Line() const {
  std::ostringstream s;
  auto map = [&s](const char* name, const auto& m) {
    s << ' ' << name << '{';
    bool first = true;
    for (const auto& [k, v] : m) {
      s << (first ? "" : ",") << k << '=' << v;
      first = false;
    }
    s << '}';
  };
  s << "chaos: seed=" << seed << " store=" << store << " kills=" << kills;
  if (instances > 1) {
    s << " instances=" << instances << " double_kills=" << double_kills << " stops=" << stops
      << " taken_over=" << taken_over << " fenced=" << fenced << " stale_runs=" << stale_runs
      << " lease_lapsed_said=" << lease_lapsed_said << " in_flight{bound=" << in_flight_bound
      << ",max_before_stop=" << in_flight_max_before << ",max_after_stop=" << in_flight_max_after
      << "} dead_leases=" << dead_leases << " leases_left=" << leases_left;
  } else if (store == "postgres") {
    s << " server_restarts=" << server_restarts << " resumed=" << resumed
      << " unreachable_said=" << unreachable_said;
  }
  map("phases", phases);
  map("faults", faults);
  s << " members=" << members << " resources=" << resources << " lost=" << lost
    << " duplicated=" << duplicated << " rekick_copies=" << rekick_copies
    << " compacted_duplicates=" << compacted_duplicates << " extra=" << extra
    << " mismatched=" << mismatched << " outcome_diffs=" << outcome_diffs
    << " clean_diffs=" << clean_diffs << " orphans=" << orphans << " integrity=" << integrity;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << " wall=" << seconds << "s";
  return s.str();
}

void ExpectSurvived(const ChaosFigures& f, const ChaosOptions& o) {
  std::printf("%s\n", f.Line().c_str());
  std::fflush(stdout);
  ASSERT_EQ(f.error, "") << f.Line();
  EXPECT_GE(f.kills, std::min(20, o.kills)) << "the work ended before the kills did";
  EXPECT_EQ(f.lost, 0) << f.first_problems;
  EXPECT_EQ(f.duplicated, 0) << f.first_problems;
  EXPECT_EQ(f.compacted_duplicates, 0) << f.first_problems;
  EXPECT_EQ(f.extra, 0) << f.first_problems;
  EXPECT_EQ(f.mismatched, 0) << f.first_problems;
  EXPECT_EQ(f.outcome_diffs, 0) << f.first_problems;
  EXPECT_EQ(f.clean_diffs, 0) << f.first_problems;
  EXPECT_EQ(f.orphans, 0) << f.first_problems;
  EXPECT_EQ(f.integrity, "state:ok/store:ok");
  EXPECT_GT(f.resources, 0);
  // The kills landed in every phase of a job, as the state DB saw it at each kill.
  for (const char* phase : {"matching", "exporting", "polling", "downloading"}) {
    EXPECT_GT(f.phases.count(phase) ? f.phases.at(phase) : 0, 0) << "no kill while " << phase;
  }
  // Every fault kind was really injected.
  for (const char* kind :
       {"500", "503", "429", "404", "410", "reset", "cut", "badjson", "fail", "delay", "expire"}) {
    EXPECT_GT(f.faults.count(kind) ? f.faults.at(kind) : 0, 0u) << "no " << kind << " fault";
  }
}

ChaosOptions ChaosOptionsFromEnv(ChaosOptions o) {
  auto num = [](const char* name, auto* out) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0')
      *out = static_cast<std::decay_t<decltype(*out)>>(std::strtoull(v, nullptr, 10));
  };
  num("P2P_CHAOS_SEED", &o.seed);
  num("P2P_CHAOS_MEMBERS", &o.members);
  num("P2P_CHAOS_KILLS", &o.kills);
  num("P2P_CHAOS_CONCURRENCY", &o.concurrency);
  const char* v = std::getenv("P2P_CHAOS_VERBOSE");
  o.verbose = v != nullptr && *v != '\0' && *v != '0';
  if (o.members > 2000) o.drain_timeout = std::chrono::milliseconds(o.members * 60);
  return o;
}

namespace {

const char* kPhaseNames[] = {"pending",   "matching", "matched",
                             "exporting", "polling",  "downloading"};

// The job ids `sql` (SELECT DISTINCT job_id ...) finds in the store; none when it cannot be read
// (no such table yet).
std::vector<std::string> StoredJobs(const DaemonHarness& h, const ChaosOptions& o,
                                    const std::string& sql) {
  std::vector<std::string> out;
  if (o.pg != nullptr) {
    std::istringstream rows(o.pg->Psql(sql).value_or(""));
    for (std::string job; std::getline(rows, job);) out.push_back(job);
    return out;
  }
  ReadOnlyDb store;
  if (fs::exists(h.store_path()) && store.Open(h.store_path())) {
    store.Query(sql, [&](sqlite3_stmt* st) { out.push_back(ColumnText(st, 0)); });
  }
  return out;
}

// Output files stored (done) so far, 0 before the state DB exists.
int64_t StoredFiles(const DaemonHarness& h) {
  return std::max<int64_t>(0,
                           h.CountRows("SELECT COUNT(*) FROM files WHERE state = 1 AND kind = 0"));
}

// Waits until the daemon `d` is storing files (a member downloading, a file stored since this
// was called), restarts the PostgreSQL server (fast shutdown, then start), and waits until the
// same daemon stores more files than it can have had in flight. "" or what went wrong.
std::string RestartServerMidDownload(const DaemonHarness& h, const ChaosOptions& o, ChildProcess& d,
                                     ChaosFigures* f) {
  const int64_t before = StoredFiles(h);
  const bool downloading = WaitUntil(
      [&] {
        return d.Wait(0ms).has_value() ||
               (StoredFiles(h) > before &&
                h.CountRows("SELECT COUNT(*) FROM members WHERE state = 5") > 0);
      },
      30s);
  if (!d.running()) return "p2p-ingestd exited before the server restart";
  if (!downloading) return "";  // nothing is downloading any more: no restart in this life
  std::string why;
  if (!o.pg->Restart(&why)) return "PostgreSQL restart: " + why;
  ++f->server_restarts;
  const int64_t at = StoredFiles(h);
  if (o.verbose) std::printf("server restarted, %lld files stored\n", static_cast<long long>(at));
  if (WaitUntil([&] { return d.Wait(0ms).has_value() || StoredFiles(h) > at + o.concurrency; },
                30s) &&
      d.running()) {
    ++f->resumed;
  }
  if (!d.running()) return "p2p-ingestd exited after the server restart";
  return "";
}

// What the daemon was doing when it died, read from its files (it is dead: nothing moves).
// Members count in the phase the state DB gives them if this life touched them (updated_ms since
// it started); store evidence counts once per job file / temporary file across all kills.
struct PhaseCounter {
  std::set<std::string> seen;  // store evidence already counted

  void Count(const DaemonHarness& h, const ChaosOptions& o, int64_t life_start_ms,
             std::map<std::string, int64_t>* phases) {
    const std::string& store_kind = o.store;
    bool any = false;
    ReadOnlyDb db;
    if (db.Open(h.state_path())) {
      db.Query(
          "SELECT state, COUNT(*) FROM members WHERE state BETWEEN 1 AND 5 AND updated_ms >= " +
              std::to_string(life_start_ms) + " GROUP BY state",
          [&](sqlite3_stmt* st) {
            (*phases)[kPhaseNames[sqlite3_column_int(st, 0)]] += sqlite3_column_int64(st, 1);
            any = true;
          });
    }
    auto once = [&](const std::string& what, const std::string& key) {
      if (seen.insert(what + "/" + key).second) {
        (*phases)[what] += 1;
        any = true;
      }
    };
    std::error_code ec;
    if (store_kind == "ndjson") {
      // A download being staged: its staged file has no footer yet. A job with files
      // committed in place (past the published end): its in-place journal.
      for (const auto& e :
           fs::recursive_directory_iterator(fs::path(h.store_path()) / ".staging", ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("inplace-", 0) == 0) {
          once("in_place_files", e.path().parent_path().filename().string() + "/" + name);
        }
        if (e.path().extension() != ".ndjson") continue;
        const std::string body = ReadFile(e.path().string());
        if (body.rfind("#staged ") == std::string::npos) {
          once("staging_files", e.path().parent_path().filename().string() + "/" +
                                    e.path().filename().string());
        }
      }
      // Past the recorded end: a job writing in place, or a publication not yet recorded.
      std::map<std::string, int64_t> marks;
      db.Query("SELECT type, ndjson_end FROM store_marks",
               [&](sqlite3_stmt* st) { marks[ColumnText(st, 0)] = sqlite3_column_int64(st, 1); });
      for (const auto& e : fs::directory_iterator(h.store_path(), ec)) {
        if (e.path().extension() != ".ndjson") continue;
        auto it = marks.find(e.path().stem().string());
        int64_t mark = it == marks.end() ? 0 : it->second;
        int64_t size = static_cast<int64_t>(fs::file_size(e.path(), ec));
        if (size > mark) {
          once("unmarked_append", e.path().stem().string() + "@" + std::to_string(size));
        }
      }
    } else {
      // Pending files of downloading jobs whose rows are already committed in the store (a
      // commit of the shared transaction happened, the file's "done" mark did not).
      std::map<std::string, std::set<int64_t>> pending;  // type -> job ids
      db.Query(
          "SELECT f.type, f.job_id FROM files f JOIN members m ON m.id = f.job_id "
          "WHERE m.state = 5 AND f.state = 0 AND f.kind = 0",
          [&](sqlite3_stmt* st) {
            pending[ColumnText(st, 0)].insert(sqlite3_column_int64(st, 1));
          });
      for (const auto& entry : pending) {
        const std::string& type = entry.first;  // named: clang 14 cannot capture a binding
        std::string in;
        for (int64_t j : entry.second) in += (in.empty() ? "" : ",") + std::to_string(j);
        const std::string sql = "SELECT DISTINCT job_id FROM " +
                                (o.pg != nullptr ? "p2p.\"" : std::string("\"")) + type +
                                "\" WHERE job_id IN (" + in + ")";
        for (const std::string& job : StoredJobs(h, o, sql)) {
          once("rows_before_done", type + "#" + job);
        }
      }
    }
    if (!any) (*phases)["startup"] += 1;  // killed before it touched any member
  }
};

// Files a crash could leave behind: store temporaries, half-written inbox files, rollback
// journals. (-wal/-shm belong to SQLite's WAL mode and are not orphans.)
int64_t CountOrphans(const fs::path& dir, std::string* first) {
  int64_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    // A finished run has no job left to publish: nothing may stay staged either.
    bool orphan = p.parent_path().filename() == ".tmp" || p.extension() == ".part" ||
                  p.extension() == ".tmp" || p.extension() == ".compact" ||
                  p.string().find("/.staging/") != std::string::npos ||
                  (name.size() > 8 && name.compare(name.size() - 8, 8, "-journal") == 0);
    if (orphan) {
      if (first->empty()) *first = "orphan: " + fs::relative(p, dir).string();
      ++n;
    }
  }
  return n;
}

std::string Integrity(const std::string& path) {
  ReadOnlyDb db;
  if (!db.Open(path)) return "cannot open " + fs::path(path).filename().string();
  std::string result;
  db.Query("PRAGMA integrity_check", [&](sqlite3_stmt* st) {
    if (result.empty()) result = ColumnText(st, 0);
  });
  return result.empty() ? "no answer" : result;
}

// A PostgreSQL store's rows hold what the store promises: provenance filled in, the resource's own
// id and type. "ok" or the first complaint.
std::string PgIntegrity(const test::PgCluster& pg, const std::string& schema) {
  std::string err;
  // "<resourceType> t" when every column is right.
  auto rows = PgStoreRows(pg, schema,
                          "concat(resource->>'resourceType', ' ', (job_id IS NOT NULL AND "
                          "received_at IS NOT NULL AND payer = 'bison' AND "
                          "resource->>'id' = id)::text)",
                          &err);
  if (!rows) return err;
  for (const PgStoreRow& r : *rows) {
    if (r.extra != r.type + " true") return r.type + "/" + r.id + ": " + r.extra;
  }
  return "ok";
}

// A PostgreSQL state's member counts (the deltas its triggers append, folded by the daemons
// while they ran) agree with the members table. "ok" or the first complaint.
std::string PgStateIntegrity(const test::PgCluster& pg) {
  std::string err;
  auto differ = pg.Psql(
      "SELECT COUNT(*) FROM (SELECT payer, state, COUNT(*) AS n FROM p2p_state.members GROUP BY 1, "
      "2) m FULL JOIN (SELECT payer, state, SUM(n) AS n FROM p2p_state.member_count_deltas GROUP "
      "BY 1, 2 HAVING SUM(n) <> 0) d USING (payer, state) WHERE m.n IS DISTINCT FROM d.n",
      &err);
  if (!differ) return err;
  return *differ == "0" ? "ok" : "member counts differ from the members in " + *differ + " states";
}

}  // namespace

// Members not yet terminal (all of them while the roster is not yet taken in).
int64_t Remaining(const DaemonHarness& h, int64_t total) {
  if (h.Waiting("members.csv")) return total;
  int64_t n = h.CountRows("SELECT COUNT(*) FROM members WHERE state <= 5");
  return n < 0 ? total : n;
}

std::map<std::string, uint64_t> InjectedFaults(const std::string& sandbox_url, std::string* error) {
  std::map<std::string, uint64_t> out;
  HttpClient admin(sandbox_url);
  HttpResponse r = admin.Get("/admin/stats");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object faults;
  if (r.status != 200 || parser.parse(r.body).get(doc) || doc["faults"].get_object().get(faults)) {
    *error = "sandbox /admin/stats unreadable: " + r.error;
    return out;
  }
  for (auto [kind, n] : faults) {
    uint64_t v = 0;
    if (!n.get_uint64().get(v)) out[std::string(kind)] = v;
  }
  return out;
}

int KillPacer::NextDelay(std::mt19937_64& rng) const {
  const int hi = static_cast<int>(ceiling_);
  return std::uniform_int_distribution<int>(std::max(o_.delay_min_ms, hi / 4), hi)(rng);
}

void KillPacer::AfterKill(int kills, int64_t remaining, int64_t total, bool startup) {
  // Spread the kills over the run: compare progress with the share of kills done, aiming to
  // leave a third of the work after the last paced kill (the drain does the rest). That third
  // is room for the extra kills of a missing phase: aiming at a sixth, a run under ASan on a
  // loaded machine finished the work after 30 kills with no kill yet in `matching`, failing.
  const double want =
      static_cast<double>(total) * (1.0 - static_cast<double>(kills) / (1.5 * o_.kills));
  if (kills < o_.kills) {
    ceiling_ *= static_cast<double>(remaining) < want ? 0.75 : 1.25;
    ceiling_ = std::clamp<double>(ceiling_, o_.delay_min_ms, o_.delay_max_ms);
  } else if (startup) {
    // Extra kills for a missing phase keep the last pace, except after a kill that came before
    // this life touched a member: the delay was shorter than the daemon's start (a loaded
    // machine or a sanitizer build makes it long), and kept as it was, every extra kill could
    // land in start-up and never reach the missing phase (seen in CI: 64 of 72 kills in start-up).
    ceiling_ = std::min<double>(ceiling_ * 1.5, o_.delay_max_ms);
  }
}

void PrintKill(const ChaosOptions& o, int kills, int delay_ms, int64_t remaining,
               const std::map<std::string, int64_t>& phases) {
  if (!o.verbose) return;
  std::string p;
  for (const auto& [k, v] : phases) p += " " + k + "=" + std::to_string(v);
  std::printf("kill %d after %d ms: remaining %lld;%s\n", kills, delay_ms,
              static_cast<long long>(remaining), p.c_str());
  std::fflush(stdout);
}

bool PhaseMissing(const ChaosFigures& f, const ChaosOptions& o) {
  for (const std::string& p : o.required_phases) {
    auto it = f.phases.find(p);
    if (it == f.phases.end() || it->second == 0) return true;
  }
  return false;
}

void CompareWithCleanRun(const DaemonHarness& h, const HarnessOptions& ho, const ChaosOptions& o,
                         ChaosFigures* f) {
  // The clean run: same seed, no faults, no kills, one daemon (its state in SQLite: the chaos
  // run's PostgreSQL state schema is not to be shared).
  HarnessOptions co = ho;
  co.faults.clear();
  co.job_delay = "0ms";
  co.concurrency = 16;
  co.pg_schema = "p2p_clean";
  co.state = "sqlite";
  DaemonHarness clean(co);
  if (std::string e = clean.Start(); !e.empty()) {
    f->error = "clean harness: " + e;
    return;
  }
  clean.DropRoster("members.csv");
  if (clean.RunOnce(o.drain_timeout) != 0) {
    f->error = "clean run failed: " + clean.last_run().err;
    return;
  }

  // Orphans and integrity before anything reads the stores through the library.
  std::string problems;
  f->orphans = CountOrphans(h.dir(), &problems);
  std::string state_ok =
      ho.state == "postgres" ? PgStateIntegrity(*o.pg) : Integrity(h.state_path());
  std::string store_ok;
  StoreSnapshot got, base;
  std::string load_error;
  if (o.store == "postgres") {
    store_ok = PgIntegrity(*o.pg, "p2p");
    got = LoadPostgresSnapshot(*o.pg, "p2p", &load_error);
    base = LoadPostgresSnapshot(*o.pg, "p2p_clean", &load_error);
  } else if (o.store == "sqlite") {
    store_ok = Integrity(h.store_path());
    got = LoadSqliteSnapshot(h.store_path(), &load_error);
    base = LoadSqliteSnapshot(clean.store_path(), &load_error);
  } else {
    got = LoadNdjsonSnapshot(h.store_path(), h.state_path(), &store_ok);
    std::string clean_ok;
    base = LoadNdjsonSnapshot(clean.store_path(), clean.state_path(), &clean_ok);
    if (clean_ok != "ok") load_error = "clean run's ndjson store: " + clean_ok;
  }
  if (!load_error.empty()) {
    f->error = load_error;
    return;
  }
  f->integrity = "state:" + state_ok + "/store:" + store_ok;

  Expected want = h.LoadExpected();
  f->members = static_cast<int64_t>(want.outcome.size());
  std::map<std::string, std::string> states = h.MemberStates();
  for (const auto& [key, outcome] : want.outcome) {
    auto it = states.find(key);
    std::string have = it == states.end() ? "(missing)" : it->second;
    if (have != outcome) {
      if (++f->outcome_diffs <= 5) problems += "\n" + key + ": want " + outcome + ", have " + have;
    }
  }
  CompareSnapshots(want, got, base, &f->resources, &f->lost, &f->extra, &f->mismatched,
                   &f->clean_diffs, &problems);
  f->duplicated = got.duplicated;
  f->rekick_copies = got.rekick_copies;
  if (o.store == "ndjson") {
    std::string compact_error;
    f->compacted_duplicates = CompactAndCountDuplicates(h, &compact_error);
    if (!compact_error.empty()) problems += "\ncompact: " + compact_error;
  }
  f->first_problems += problems;
}

ChaosFigures RunChaos(const ChaosOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  ChaosFigures f;
  f.seed = o.seed;
  f.store = o.store;
  const HarnessOptions ho = ChaosHarnessOptions(o);
  DaemonHarness h(ho);
  if (std::string e = h.Start(); !e.empty()) {
    f.error = "chaos harness: " + e;
    return f;
  }
  h.DropRoster("members.csv");
  const int64_t total = o.members;

  std::mt19937_64 rng(o.seed);
  KillPacer pacer(o);
  PhaseCounter phases;
  while (f.kills < o.kills || (PhaseMissing(f, o) && f.kills < 3 * o.kills)) {
    std::string err;
    const int64_t life_start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
    auto d = h.StartDaemon(&err);
    if (!d) {
      f.error = "p2p-ingestd did not start: " + err;
      return f;
    }
    // Server restarts spread over the kills: before kill k * kills / (restarts + 1).
    if (o.pg != nullptr && f.server_restarts < o.server_restarts &&
        (f.kills + 1) * (o.server_restarts + 1) >= (f.server_restarts + 1) * o.kills) {
      if (std::string e = RestartServerMidDownload(h, o, *d, &f); !e.empty()) {
        f.error = e + ": " + ReadFile((h.dir() / "daemon.stderr").string());
        return f;
      }
    }
    const int delay = pacer.NextDelay(rng);
    // Waiting for an exit that must not come: returns at the kill moment (or early, a failure).
    if (auto code = d->Wait(std::chrono::milliseconds(delay)); code.has_value()) {
      f.error = "p2p-ingestd exited on its own (code " + std::to_string(*code) +
                "): " + ReadFile((h.dir() / "daemon.stderr").string());
      return f;
    }
    d->Signal(SIGKILL);
    d->Wait(5s);
    ++f.kills;
    std::map<std::string, int64_t> now;
    phases.Count(h, o, life_start_ms, &now);
    for (const auto& [k, v] : now) f.phases[k] += v;
    const int64_t remaining = Remaining(h, total);
    PrintKill(o, f.kills, delay, remaining, now);
    if (remaining == 0) break;  // nothing left to interrupt
    pacer.AfterKill(f.kills, remaining, total, now.count("startup") != 0);
  }

  // Drain: the last restart runs every member to its end.
  if (h.RunOnce(o.drain_timeout) != 0) {
    f.error = "final run --once failed (" + std::to_string(h.last_run().exit_code) +
              "): " + h.last_run().err;
    return f;
  }
  const std::string log = h.Log();
  for (size_t at = 0; (at = log.find("store is unreachable", at)) != std::string::npos; ++at) {
    ++f.unreachable_said;
  }
  std::string stats_error;
  f.faults = InjectedFaults(h.SandboxUrl(), &stats_error);
  if (!stats_error.empty()) f.first_problems += "\n" + stats_error;
  CompareWithCleanRun(h, ho, o, &f);
  f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return f;
}

HarnessOptions ChaosHarnessOptions(const ChaosOptions& o) {
  HarnessOptions ho;
  ho.members = o.members;
  ho.seed = static_cast<int>(o.seed % 1'000'000'007);
  ho.store = o.store;
  ho.pg = o.pg;
  ho.store_retry_interval = "200ms";  // an unreachable server is tried again this often
  ho.faults = ChaosFaultSpec();
  ho.job_delay = o.job_delay;
  ho.concurrency = o.concurrency;
  ho.max_attempts = 30;
  return ho;
}

}  // namespace p2p::testing
