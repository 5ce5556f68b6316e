// The chaos test with the PostgreSQL store: every fault kind of p2p-sandbox, p2p-ingestd
// SIGKILLed at random moments and restarted, and the PostgreSQL server itself restarted (fast
// shutdown, then start) three times mid-run while files are downloading. At the end every member
// has the outcome expected.json gives and the type tables, read by SQL, hold every expected
// (member_key, id) once (0 lost; the primary key (payer, id) rules out a duplicate) with the
// same content as a clean run's schema. Prints its figures on one line (see
// integration/chaos_run.h); replay with P2P_CHAOS_SEED=<seed printed>.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "integration/chaos_run.h"
#include "support/pg_cluster.h"

namespace p2p::testing {
namespace {

TEST(PgChaos, PostgresStoreSurvivesKillsFaultsAndServerRestarts) {
  std::string why;
  auto pg = test::PgCluster::Start(&why);
  ASSERT_NE(pg, nullptr) << why;
  ChaosOptions o;
  o.store = "postgres";
  o.pg = pg.get();
  o.server_restarts = 3;
  // Moderate: CI runs this twice (plain and under ASan) on two cores.
  o.members = 120;
  o.kills = 12;
  o.required_phases = {"matching", "exporting", "polling", "downloading"};
  o = ChaosOptionsFromEnv(o);
  const ChaosFigures f = RunChaos(o);
  ExpectSurvived(f, o);
  EXPECT_GE(f.server_restarts, 3) << "the work ended before the server restarts did";
  // After each restart the same daemon went on storing files, without a kill to help it.
  EXPECT_EQ(f.resumed, f.server_restarts);
  // The restarts met writes in progress: the downloads paused for the store at least once.
  EXPECT_GT(f.unreachable_said, 0);
}

}  // namespace
}  // namespace p2p::testing
