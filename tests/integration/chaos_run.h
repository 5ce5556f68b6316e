// The chaos run: p2p-sandbox with every fault kind on, p2p-ingestd SIGKILLed at random
// moments and restarted again and again, then drained with `run --once`; the result is compared
// with expected.json and with the store of a clean run (same seed, no faults, no kills).
//
// Kill moments come from a PRNG seeded with ChaosOptions::seed (printed in the figures; the test
// reads P2P_CHAOS_SEED to replay one). The delay before each kill is drawn from [ceiling/4,
// ceiling]; the ceiling adapts so the kills spread over the whole run (if the run is ahead of
// "kills done / kills wanted" the ceiling shrinks, else it grows). Wall-clock timing still varies,
// so a replay meets the same delays, not necessarily the same phases.
//
// After each kill (the daemon is dead, nothing moves) the state DB and the store directory say what
// the daemon was doing: the members it touched in that life by non-terminal state (matching,
// matched, exporting, polling, downloading), or `startup` when it touched none; downloads with a
// temporary file open (ndjson `tmp_files`); store appends not yet recorded as the file's "done"
// mark (ndjson `unmarked_append`: killed inside a store commit); pending files whose rows are
// already committed (sqlite `rows_before_done`). Those are the `phases` figures.
//
// With the PostgreSQL store (ChaosOptions::pg), the run also restarts the server (fast shutdown,
// then start) `server_restarts` times, spread over the kills, each while the daemon of that life
// is downloading; the daemon must go on storing afterwards without a kill (`resumed`). The clean
// run uses schema p2p_clean of the same cluster; `rows_before_done` is read from the tables.
//
// Not thread-safe; runs child processes and blocks. Errors (a daemon that will not start, a DB
// that cannot be read) come back in ChaosFigures::error; the figures never hold PHI.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "integration/daemon_harness.h"

namespace p2p::testing {

struct ChaosOptions {
  int members = 150;
  uint64_t seed = 1;  // kill-moment PRNG; also the sandbox --seed (data set)
  std::string store = "sqlite";  // sqlite | ndjson | postgres (needs `pg`)
  test::PgCluster* pg = nullptr;
  int server_restarts = 0;  // postgres: server restarts mid-run (see above)
  int kills = 24;  // SIGKILLs wanted before the final drain
  int concurrency = 8;
  std::string job_delay = "60ms";  // sandbox export duration: keeps members in `polling` a while
  // Ceiling of the delay before a kill (adapted at run time), clamped to [min, max].
  int delay_ceiling_ms = 400, delay_min_ms = 80, delay_max_ms = 20000;
  std::chrono::milliseconds drain_timeout{std::chrono::minutes(4)};
  bool verbose = false;  // one line per kill on stdout
  // Phases (PhaseCounter names) some kill must land in: after `kills`, the run goes on killing,
  // up to 3 x `kills`, until each was hit (kill moments are random; a loaded machine shifts them).
  std::vector<std::string> required_phases;
  // The cluster run (postgres/cluster_chaos_run.h): daemons sharing the PostgreSQL state, the
  // share of kills that take two daemons at once, and the SIGSTOPs past the lease.
  int instances = 1;
  int double_kill_percent = 0;
  int stops = 0;
};

// Every fault kind of fault_spec.h at a moderate rate.
std::string ChaosFaultSpec();

struct ChaosFigures {
  std::string error;  // "" when the run itself worked (the counts below say whether it was right)
  uint64_t seed = 0;
  std::string store;
  int kills = 0;
  int server_restarts = 0;   // done, each while a member was downloading
  int resumed = 0;           // restarts after which the same daemon stored files again
  int unreachable_said = 0;  // "store is unreachable" lines in the daemon's log (all lives)
  std::map<std::string, int64_t> phases;   // what killed daemons were doing, summed
  std::map<std::string, uint64_t> faults;  // injected by kind (sandbox /admin/stats)
  int64_t members = 0;                     // in expected.json
  int64_t resources = 0;                   // expected (member, type, id) triples
  int64_t lost = 0;                        // expected, absent from the chaos store
  int64_t duplicated = 0;                  // stored more than once by one export file
  int64_t rekick_copies = 0;               // ndjson: raw lines of an id from another export
  int64_t compacted_duplicates = 0;        // ndjson: raw lines per id above 1 after compact
  int64_t extra = 0;                       // stored, not expected
  int64_t mismatched = 0;                  // content differs from the clean run's
  int64_t outcome_diffs = 0;               // members whose final state != expected outcome
  int64_t clean_diffs = 0;                 // (type, member, id) sets chaos vs clean differ
  int64_t orphans = 0;                     // temporary or staged files left behind
  std::string integrity = "?";             // "ok" or the first complaint, per database
  std::string first_problems;              // a few readable lines for a failing test
  double seconds = 0;
  // The cluster run (instances > 1; postgres/cluster_chaos_run.h says how each is measured).
  int instances = 1;
  int double_kills = 0;      // kills of two daemons at once (each counts in `kills`)
  int stops = 0;             // SIGSTOPs past the lease, then SIGCONT
  int taken_over = 0;        // jobs of a stopped daemon another instance leased meanwhile
  int fenced = 0;            // of those, refused to the stopped daemon once it went on
  int stale_runs = 0;        // a stopped daemon's runs neither refused nor ended (30 s after)
  int lease_lapsed_said = 0;  // "lease lapsed" lines in the daemons' logs (all lives)
  int64_t in_flight_bound = 0;  // the payer's FHIR requests in flight allowed cluster-wide
  int64_t in_flight_max_before = -1, in_flight_max_after = -1;  // at the sandbox, around stops
  int64_t dead_leases = -1;  // leases of dead instances or on terminal jobs, after the drain
  int64_t leases_left = -1;  // leases held after every daemon stopped cleanly

  // The one line: kills, phases, faults by kind, members, resources, lost, duplicated, ...
  std::string Line() const;
};

// Runs the whole thing in temp dirs (two sandboxes, two daemons' worth of files) and returns the
// figures. The caller asserts on them.
ChaosFigures RunChaos(const ChaosOptions& options);

// The pieces RunChaos is made of, shared with the cluster run.

// The harness of a chaos run: every fault kind (ChaosFaultSpec), max_attempts 30, the store's
// retry every 200 ms, members, seed, store and concurrency from `o`.
HarnessOptions ChaosHarnessOptions(const ChaosOptions& o);

// Members not yet terminal (all of them while the roster is not yet taken in).
int64_t Remaining(const DaemonHarness& h, int64_t total);

// Faults injected by kind (the sandbox's /admin/stats); *error when it cannot be read.
std::map<std::string, uint64_t> InjectedFaults(const std::string& sandbox_url, std::string* error);

// With o.verbose, one line on stdout for a kill: how many so far, the delay before it, the
// members remaining and what the killed daemon was doing (`phases` of this kill).
void PrintKill(const ChaosOptions& o, int kills, int delay_ms, int64_t remaining,
               const std::map<std::string, int64_t>& phases);

// Whether a phase of o.required_phases has no kill yet.
bool PhaseMissing(const ChaosFigures& f, const ChaosOptions& o);

// The delay before each kill, drawn from [ceiling/4, ceiling], and the ceiling's adaptation
// (see the top of this file). Holds a reference to `o`.
class KillPacer {
 public:
  explicit KillPacer(const ChaosOptions& o) : o_(o), ceiling_(o.delay_ceiling_ms) {}
  int NextDelay(std::mt19937_64& rng) const;
  // After kill number `kills`, `remaining` of `total` members not terminal; `startup`: the
  // killed daemon had touched no member yet.
  void AfterKill(int kills, int64_t remaining, int64_t total, bool startup);

 private:
  const ChaosOptions& o_;
  double ceiling_;
};

// After the drain: runs the clean run (same seed, no faults, no kills; store schema p2p_clean
// with postgres, its state in SQLite), then fills f's orphans, integrity, members, resources,
// lost, duplicated, extra, mismatched, outcome_diffs, clean_diffs (and ndjson's compaction),
// appending readable lines to f->first_problems; f->error when a run or a read fails.
void CompareWithCleanRun(const DaemonHarness& h, const HarnessOptions& ho, const ChaosOptions& o,
                         ChaosFigures* f);

// The gtest expectations every chaos run must meet (prints the figures line first): the run
// worked, at least min(20, kills) kills, nothing lost, duplicated, extra or different, every
// outcome as expected, no orphan, integrity ok, a kill in every phase of a job, every fault kind
// injected.
void ExpectSurvived(const ChaosFigures& f, const ChaosOptions& o);

// ChaosOptions from the environment over `defaults`: P2P_CHAOS_SEED, P2P_CHAOS_MEMBERS,
// P2P_CHAOS_KILLS, P2P_CHAOS_CONCURRENCY, P2P_CHAOS_VERBOSE (scripts/soak sets them).
ChaosOptions ChaosOptionsFromEnv(ChaosOptions defaults);

}  // namespace p2p::testing
