#include "postgres/cluster_chaos_run.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "postgres/pg_query.h"
#include "support/http_client.h"
#include "support/pg_cluster.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// PipelineLimits::files_in_parallel (not configurable): a job's downloads at a time.
constexpr int kFilesInParallel = 4;
// The harness's state.lease_timeout with state "postgres".
constexpr std::chrono::milliseconds kLeaseTimeout = 5s;

const char* const kStateNames[] = {"pending",   "matching", "matched",
                                   "exporting", "polling",  "downloading"};

struct Daemon {
  std::string id;  // instance.id
  std::unique_ptr<ChildProcess> proc;
  // The start of its lease owner token "<instance.id>/<pid>/<start ms>" (ids are [a-z]: no LIKE
  // wildcard in it).
  std::string owner() const { return id + "/" + std::to_string(proc->pid()) + "/"; }
};

// The payer's FHIR requests in flight at the sandbox since the window began: {now, max}, after
// `method` (GET, or DELETE to start a new window) on /admin/in-flight; {-1, -1} when unreadable.
std::pair<int64_t, int64_t> InFlight(const std::string& sandbox_url, const char* method) {
  HttpClient admin(sandbox_url);
  HttpResponse r = admin.Request(method, "/admin/in-flight");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  int64_t now = -1, max = -1;
  if (r.status != 200 || parser.parse(r.body).get(doc)) return {now, max};
  if (doc["bison"]["now"].get_int64().get(now) || doc["bison"]["max"].get_int64().get(max)) {
    return {0, 0};  // no request of the payer yet
  }
  return {now, max};
}

class ClusterRun {
 public:
  ClusterRun(DaemonHarness& h, const ChaosOptions& o, ChaosFigures& f)
      : h_(h), o_(o), f_(f), q_(*o.pg), rng_(o.seed), pacer_(o) {}

  ~ClusterRun() {
    for (Daemon& d : daemons_) {
      if (d.proc) d.proc->Signal(SIGCONT);  // a failed stop must not leave one stopped
    }
  }

  std::string Run() {
    for (int i = 0; i < o_.instances; ++i) {
      daemons_.push_back({std::string(1, static_cast<char>('a' + i)), nullptr});
      if (std::string e = Start(daemons_.back()); !e.empty()) return e;
    }
    h_.DropRoster("members.csv");
    const int64_t total = o_.members;
    while (f_.kills < o_.kills || f_.stops < o_.stops ||
           (PhaseMissing(f_, o_) && f_.kills < 3 * o_.kills)) {
      const int delay = pacer_.NextDelay(rng_);
      // Waiting for an exit that must not come: returns at the kill moment (or early, a failure).
      daemons_[0].proc->Wait(std::chrono::milliseconds(delay));
      if (std::string e = Exited(); !e.empty()) return e;
      // Stops spread over the kills: before kill (s + 1) * kills / (stops + 1).
      if (f_.stops < o_.stops && f_.kills * (o_.stops + 1) >= (f_.stops + 1) * o_.kills) {
        if (std::string e = StopPastLease(); !e.empty()) return e;
        continue;
      }
      std::map<std::string, int64_t> now;
      if (std::string e = KillRound(&now); !e.empty()) return e;
      const int64_t remaining = Remaining(total);
      PrintKill(o_, f_.kills, delay, remaining, now);
      if (remaining == 0) break;  // nothing left to interrupt
      pacer_.AfterKill(f_.kills, remaining, total, now.count("startup") != 0);
    }
    return Drain(total);
  }

 private:
  // Members not yet terminal (all while the roster is not yet taken in).
  int64_t Remaining(int64_t total) {
    if (h_.Waiting("members.csv")) return total;
    const int64_t n = q_.Count("SELECT COUNT(*) FROM p2p_state.members WHERE state <= 5");
    return n < 0 ? total : n;
  }

  std::string Start(Daemon& d) {
    std::string err;
    d.proc = h_.StartDaemon(&err, {}, d.id);
    return d.proc ? "" : "p2p-ingestd " + d.id + " did not start: " + err;
  }

  // "" while every daemon runs, else which one exited and its stderr.
  std::string Exited() {
    for (Daemon& d : daemons_) {
      if (auto code = d.proc->Wait(0ms); code.has_value()) {
        return "p2p-ingestd " + d.id + " exited on its own (code " + std::to_string(*code) +
               "): " + ReadFile((h_.dir() / ("daemon-" + d.id + ".stderr")).string());
      }
    }
    return "";
  }

  // A daemon running a job now (-1: none within `patience`): within the first half of the
  // patience only one whose job is in a phase no kill has hit yet (o.required_phases), if one is
  // missing. The state is read every few milliseconds: a job's run (a request and a save) is
  // often that short.
  int LeaseHolder(std::chrono::milliseconds patience) {
    const auto start = Clock::now();
    do {
      auto leases = q_.Rows(
          "SELECT lease_owner, state FROM p2p_state.members WHERE lease_owner IS NOT NULL AND "
          "state <= 5 AND lease_until_ms >= (extract(epoch FROM clock_timestamp()) * "
          "1000)::bigint");
      std::vector<int> any, missing;
      for (size_t i = 0; leases && i < daemons_.size(); ++i) {
        for (const auto& r : *leases) {
          if (r.at(0).rfind(daemons_[i].owner(), 0) != 0) continue;
          any.push_back(static_cast<int>(i));
          const std::string phase = kStateNames[std::stoi(r.at(1))];
          if (std::count(o_.required_phases.begin(), o_.required_phases.end(), phase) != 0 &&
              f_.phases.count(phase) == 0) {
            missing.push_back(static_cast<int>(i));
          }
        }
      }
      if (!missing.empty()) return Pick(missing);
      if (!any.empty() && (!PhaseMissing(f_, o_) || Clock::now() - start > patience / 2)) {
        return Pick(any);
      }
      std::this_thread::sleep_for(2ms);
    } while (Clock::now() - start < patience);
    return -1;
  }

  int Pick(const std::vector<int>& among) {
    return among[std::uniform_int_distribution<size_t>(0, among.size() - 1)(rng_)];
  }

  // SIGKILLs one daemon (two at once in double_kill_percent of the rounds), counts what each
  // was doing, restarts them. The first victim is a daemon running a job if one does within a
  // second (see LeaseHolder) (with limits.concurrency held
  // cluster-wide, most daemons are idle at any moment, and a kill of an idle one interrupts
  // nothing); the second is drawn among the others.
  std::string KillRound(std::map<std::string, int64_t>* now) {
    const int n = static_cast<int>(daemons_.size());
    std::vector<Daemon*> victims;
    int first = LeaseHolder(1s);
    if (first < 0) first = std::uniform_int_distribution<int>(0, n - 1)(rng_);
    victims.push_back(&daemons_[first]);
    // Two at once at the rate asked, and at least once by the middle of the kills.
    const bool two =
        std::uniform_int_distribution<int>(0, 99)(rng_) < o_.double_kill_percent ||
        (o_.double_kill_percent > 0 && f_.double_kills == 0 && 2 * f_.kills >= o_.kills);
    if (n >= 2 && two) {
      const int other = std::uniform_int_distribution<int>(1, n - 1)(rng_);
      victims.push_back(&daemons_[(first + other) % n]);
      ++f_.double_kills;
    }
    for (Daemon* d : victims) d->proc->Signal(SIGKILL);
    for (Daemon* d : victims) {
      d->proc->Wait(5s);
      ++f_.kills;
      if (std::string e = CountPhases(*d, now); !e.empty()) return e;
    }
    for (const auto& [k, v] : *now) f_.phases[k] += v;
    for (Daemon* d : victims) {
      if (std::string e = Start(*d); !e.empty()) return e;
    }
    return "";
  }

  // What the dead process `d` was doing: the jobs it held leases on, by state; `idle` when it
  // held none, `startup` when it had not joined the cluster yet.
  std::string CountPhases(const Daemon& d, std::map<std::string, int64_t>* now) {
    std::string err;
    auto migrated = q_.Value("SELECT to_regclass('p2p_state.instances') IS NOT NULL", &err);
    if (!migrated) return "phases: " + err;
    if (*migrated != "t") {  // killed before the first daemon created the state's tables
      (*now)["startup"] += 1;
      return "";
    }
    auto rows = q_.Rows("SELECT state, COUNT(*) FROM p2p_state.members WHERE lease_owner LIKE '" +
                            d.owner() + "%' AND state <= 5 GROUP BY state",
                        &err);
    if (!rows) return "phases: " + err;
    for (const auto& r : *rows) (*now)[kStateNames[std::stoi(r.at(0))]] += std::stoll(r.at(1));
    if (!rows->empty()) return "";
    const int64_t joined =
        q_.Count("SELECT COUNT(*) FROM p2p_state.instances WHERE id LIKE '" + d.owner() + "%'");
    (*now)[joined > 0 ? "idle" : "startup"] += 1;
    return "";
  }

  // SIGSTOPs a daemon holding a lease past its lease, then SIGCONTs it (see the header).
  std::string StopPastLease() {
    // The daemon running the job with the earliest deadline: once that lease lapses, the job
    // comes first in every other instance's claim (earliest deadline first), where a job further
    // down would wait behind the many jobs in progress. Runs are short: the job is looked up,
    // its daemon stopped, and the stop kept only if the daemon still holds that job's lease
    // (bounded: the job may be waiting between runs).
    Daemon* victim = nullptr;
    std::vector<PgQuery::Row> held;  // its runs when stopped: job id, lease epoch
    std::string err;
    const auto looking_since = Clock::now();
    while (victim == nullptr && Clock::now() - looking_since < 30s) {
      auto first = q_.Rows(
          "SELECT id, COALESCE(lease_owner, '') FROM p2p_state.members WHERE state <= 5 ORDER BY "
          "deadline, id LIMIT 1",
          &err);
      if (!first) return "stop: " + err;
      if (first->empty()) return "stop: every member is terminal";
      for (Daemon& d : daemons_) {
        if (first->front().at(1).rfind(d.owner(), 0) != 0) continue;
        d.proc->Signal(SIGSTOP);
        // Its runs: the jobs it leases that are due. A leased job that waits for a later time
        // (next_ms) has no run any more: the run saved the wait and ended, its lease was about
        // to be given back (after the stop, a no-op if the job was taken meanwhile).
        auto leases = q_.Rows(
            "SELECT id, lease_epoch FROM p2p_state.members WHERE lease_owner LIKE '" + d.owner() +
                "%' AND state <= 5 AND next_ms <= (extract(epoch FROM clock_timestamp()) * "
                "1000)::bigint",
            &err);
        if (!leases) return "stop: " + err;
        bool has_first = false;
        for (const auto& r : *leases) has_first = has_first || r.at(0) == first->front().at(0);
        if (has_first) {
          victim = &d;
          held = std::move(*leases);
        } else {
          d.proc->Signal(SIGCONT);  // its run of the job ended: look again
        }
      }
      if (victim == nullptr) std::this_thread::sleep_for(5ms);
    }
    if (victim == nullptr) return "stop: the earliest job's daemon held no lease on it for 30 s";
    const auto stopped_at = Clock::now();
    // The window before the stop ends here: no lease of the stopped daemon has lapsed yet (it
    // renewed them at most a third of the lease ago).
    f_.in_flight_max_before =
        std::max(f_.in_flight_max_before, InFlight(h_.SandboxUrl(), "GET").second);
    // Past its lease, and (bounded) until another instance leased one of its jobs.
    std::string ids;
    for (const auto& r : held) ids += (ids.empty() ? "" : ",") + r.at(0);
    std::vector<std::string> taken;
    WaitUntil(
        [&] {
          if (Clock::now() - stopped_at < kLeaseTimeout + 1s) return false;
          auto now =
              q_.Rows("SELECT id, lease_epoch FROM p2p_state.members WHERE id IN (" + ids + ")");
          if (!now) return false;
          taken.clear();
          for (const auto& was : held) {
            for (const auto& is : *now) {
              if (is.at(0) == was.at(0) && std::stoll(is.at(1)) > std::stoll(was.at(1))) {
                taken.push_back(is.at(0));
              }
            }
          }
          return !taken.empty();
        },
        kLeaseTimeout + 20s);
    const size_t log_at = h_.Log(victim->id).size();
    victim->proc->Signal(SIGCONT);
    ++f_.stops;
    f_.taken_over += static_cast<int>(taken.size());
    // Every run the stopped daemon had ends: a job taken over is refused to it at its next write
    // (fencing), or at the release of its lease if the run had written its last; so is one whose
    // lease lapsed untaken (it is not renewed). Or the run went on and ended normally before
    // that (the job released, its epoch unchanged). A run's requests all end before it does, and
    // the refusal is logged once the run has ended: "job N payer P: job N: its lease lapsed...".
    std::set<std::string> refused, released;
    const auto run_over = [&] {
      const std::string all = h_.Log(victim->id);
      const std::string log = all.substr(std::min(log_at, all.size()));
      auto rows = q_.Rows(
          "SELECT id, lease_epoch, COALESCE(lease_owner, '') FROM "
          "p2p_state.members WHERE id IN (" +
          ids + ")");
      if (!rows) return false;
      for (const auto& was : held) {
        const std::string& id = was.at(0);
        if (log.find("job " + id + " payer bison: job " + id + ": its lease lapsed") !=
            std::string::npos) {
          refused.insert(id);
        }
        for (const auto& is : *rows) {
          if (is.at(0) == id && is.at(1) == was.at(1) && is.at(2).empty()) released.insert(id);
        }
      }
      for (const auto& was : held) {
        if (refused.count(was.at(0)) == 0 && released.count(was.at(0)) == 0) return false;
      }
      return true;
    };
    WaitUntil(run_over, 30s);
    for (const std::string& id : taken) f_.fenced += static_cast<int>(refused.count(id));
    for (const auto& was : held) {
      const std::string& id = was.at(0);
      const bool was_taken = std::count(taken.begin(), taken.end(), id) != 0;
      if (refused.count(id) != 0 || (!was_taken && released.count(id) != 0)) continue;
      ++f_.stale_runs;
      f_.first_problems += "\nstopped daemon " + victim->id + ": its run of job " + id +
                           (was_taken ? " (taken over)" : "") +
                           " was not refused nor ended; its last lines on the job (continued at " +
                           std::to_string(log_at) + "):";
      std::istringstream lines(h_.Log(victim->id));
      std::vector<std::string> last;
      for (std::string line; std::getline(lines, line);) {
        if (line.find("job " + id + " ") != std::string::npos) last.push_back(line);
      }
      for (size_t i = last.size() > 6 ? last.size() - 6 : 0; i < last.size(); ++i) {
        f_.first_problems += "\n  " + last[i];
      }
      auto row = q_.Rows(
          "SELECT state, COALESCE(lease_owner, ''), lease_epoch, lease_until_ms, "
          "next_ms FROM p2p_state.members WHERE id = " +
          id);
      if (row && !row->empty()) {
        f_.first_problems += "\n  row: state " + row->front()[0] + ", owner " + row->front()[1] +
                             ", epoch " + row->front()[2] + " (was " + was.at(1) + "), until " +
                             row->front()[3] + ", next " + row->front()[4] + "; stopped as " +
                             victim->owner();
      }
      const std::string all = h_.Log(victim->id);
      f_.first_problems +=
          "\n  its log's end:\n" + all.substr(all.size() > 3000 ? all.size() - 3000 : 0);
    }
    // A new window: the stopped daemon's open requests overlapped the new owners' in this one.
    const auto during = InFlight(h_.SandboxUrl(), "GET");
    InFlight(h_.SandboxUrl(), "DELETE");
    if (o_.verbose) {
      std::printf(
          "stop of %s: %zu leases held, %zu taken over, %zu refused; in flight max %lld "
          "during the stop\n",
          victim->id.c_str(), held.size(), taken.size(), refused.size(),
          static_cast<long long>(during.second));
      std::fflush(stdout);
    }
    return Exited();
  }

  // No more kills: every member to its end, then the lease checks and a clean stop.
  std::string Drain(int64_t total) {
    std::string exited;
    WaitUntil(
        [&] {
          exited = Exited();
          return !exited.empty() || Remaining(total) == 0;
        },
        o_.drain_timeout);
    if (!exited.empty()) return exited;
    if (Remaining(total) != 0) {
      return "drain: " + std::to_string(Remaining(total)) + " members not terminal after " +
             std::to_string(o_.drain_timeout.count()) + " ms";
    }
    f_.in_flight_max_after = InFlight(h_.SandboxUrl(), "GET").second;
    // Still running: no lease of a dead (or stopped) instance, none on a terminal job.
    f_.dead_leases = q_.Count(
        "SELECT COUNT(*) FROM p2p_state.members m LEFT JOIN p2p_state.instances i ON "
        "i.id = m.lease_owner WHERE "
        "m.lease_owner IS NOT NULL AND (m.state > 5 OR i.id IS NULL OR i.stopped_ms IS NOT NULL "
        "OR i.heartbeat_ms < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - "
        "i.lease_ms)");
    // A daemon restarted a moment ago may not handle SIGTERM yet: stop each once it has joined.
    for (Daemon& d : daemons_) {
      if (!WaitUntil(
              [&] {
                return q_.Count("SELECT COUNT(*) FROM p2p_state.instances WHERE id LIKE '" +
                                d.owner() + "%'") > 0;
              },
              20s)) {
        return "p2p-ingestd " + d.id + " did not join the cluster in 20 s";
      }
      d.proc->Signal(SIGTERM);
    }
    for (Daemon& d : daemons_) {
      auto code = d.proc->Wait(20s);
      if (code != 0) {
        return "p2p-ingestd " + d.id + " did not stop cleanly (" +
               (code ? std::to_string(*code) : std::string("still running")) + ")";
      }
    }
    f_.leases_left =
        q_.Count("SELECT COUNT(*) FROM p2p_state.members WHERE lease_owner IS NOT NULL");
    for (const Daemon& d : daemons_) {
      const std::string log = h_.Log(d.id);
      for (size_t at = 0; (at = log.find("lease lapsed", at)) != std::string::npos; ++at) {
        ++f_.lease_lapsed_said;
      }
    }
    return "";
  }

  DaemonHarness& h_;
  const ChaosOptions& o_;
  ChaosFigures& f_;
  PgQuery q_;
  std::mt19937_64 rng_;
  KillPacer pacer_;
  std::vector<Daemon> daemons_;
};

}  // namespace

ChaosFigures RunClusterChaos(const ChaosOptions& o) {
  const auto started = Clock::now();
  ChaosFigures f;
  f.seed = o.seed;
  f.store = o.store;
  f.instances = o.instances;
  f.in_flight_bound =
      static_cast<int64_t>(o.concurrency) * std::min(kFilesInParallel, o.concurrency);
  HarnessOptions ho = ChaosHarnessOptions(o);
  ho.state = "postgres";
  // Every FHIR request takes a moment at the sandbox, so that the requests of the jobs running
  // at once overlap there: the maximum in flight then shows how many jobs ran at once (a few
  // milliseconds each, they rarely would, and a cluster running too many could go unseen).
  ho.faults += ",match:delay=20ms,export:delay=20ms,job:delay=20ms,file:delay=40ms";
  DaemonHarness h(ho);
  if (std::string e = h.Start(); !e.empty()) {
    f.error = "cluster chaos harness: " + e;
    return f;
  }
  {
    ClusterRun run(h, o, f);
    if (std::string e = run.Run(); !e.empty()) {
      f.error = e;
      return f;
    }
  }
  std::string stats_error;
  f.faults = InjectedFaults(h.SandboxUrl(), &stats_error);
  if (!stats_error.empty()) f.first_problems += "\n" + stats_error;
  CompareWithCleanRun(h, ho, o, &f);
  f.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return f;
}

void ExpectClusterSurvived(const ChaosFigures& f, const ChaosOptions& o) {
  ExpectSurvived(f, o);
  if (!f.error.empty()) return;
  EXPECT_GT(f.double_kills, 0) << "no two daemons killed at once";
  EXPECT_GE(f.stops, o.stops);
  // The fencing was exercised: a stopped daemon's job went to another instance, and each such
  // job was refused to the stopped daemon once it went on.
  EXPECT_GT(f.taken_over, 0) << "no job of a stopped daemon was taken over";
  EXPECT_EQ(f.fenced, f.taken_over) << f.first_problems;
  EXPECT_EQ(f.stale_runs, 0) << f.first_problems;
  EXPECT_GE(f.lease_lapsed_said, f.fenced);
  // The payer's concurrency held across the instances (the sandbox saw its requests at all; a
  // stop may come before the first request, after it most of the work remains).
  EXPECT_LE(f.in_flight_max_before, f.in_flight_bound);
  EXPECT_GT(f.in_flight_max_after, 0);
  EXPECT_LE(f.in_flight_max_after, f.in_flight_bound);
  EXPECT_EQ(f.dead_leases, 0);
  EXPECT_EQ(f.leases_left, 0);
}

}  // namespace p2p::testing
