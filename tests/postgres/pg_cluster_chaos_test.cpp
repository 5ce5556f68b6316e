// The cluster chaos test: three p2p-ingestd daemons share one PostgreSQL state and store and the
// sandbox injects every fault kind; daemons are SIGKILLed at random moments (some rounds two at
// once) and restarted, and one is SIGSTOPped past its lease and then continued. At the end every
// member has the outcome expected.json gives, the store equals a clean run's id by id (0 lost; the
// primary key rules out a duplicate), no lease is left to a dead instance, the stopped daemon was
// refused every job another instance took meanwhile (fencing), and the sandbox never saw more of
// the payer's requests in flight than its limits.concurrency allows cluster-wide. Prints its
// figures on one line (see postgres/cluster_chaos_run.h); replay with P2P_CHAOS_SEED=<seed>.
#include <gtest/gtest.h>

#include <chrono>

#include "postgres/cluster_chaos_run.h"
#include "postgres/pg_daemon_test.h"

namespace p2p::testing {
namespace {

using PgClusterChaos = PgDaemonTest;  // its throwaway cluster holds the state and the store

TEST_F(PgClusterChaos, ThreeDaemonsSurviveKillsStopsAndFaults) {
  ChaosOptions o;
  o.instances = 3;
  o.store = "postgres";
  o.pg = pg_.get();
  o.members = 300;
  // Cluster-wide at most 4 jobs, each with at most 4 requests in flight: 16 requests. Without the
  // cluster-wide limit, three daemons would run 4 jobs each: up to 48.
  o.concurrency = 4;
  o.kills = 20;
  o.double_kill_percent = 30;
  o.stops = 1;
  o.required_phases = {"matching", "exporting", "polling", "downloading"};
  o.drain_timeout = std::chrono::seconds(240);
  o = ChaosOptionsFromEnv(o);
  ExpectClusterSurvived(RunClusterChaos(o), o);
}

}  // namespace
}  // namespace p2p::testing
