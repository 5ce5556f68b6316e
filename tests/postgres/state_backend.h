// StateBackendTest: one scenario of the job state (state/state_db.h) run on both backends, as a
// value-parameterized fixture (INSTANTIATE_TEST_SUITE_P(..., kStateBackends, BackendName)):
//   sqlite:   a state.db file in a fresh temp dir per test, the real migrations;
//   postgres: a fresh schema per test (CREATE SCHEMA sN AUTHORIZATION p2p_ingest) in one
//             throwaway cluster per test suite (support/pg_cluster.h), started by the suite's
//             first PostgreSQL test and stopped by TearDownTestSuite; the real migrations.
// Open() opens one more StateDb on the same state: a second daemon ("instance") of a cluster.
// A cluster that will not start FAILs the test (never skips).
//
// Threading: gtest's main thread only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "state/state_db.h"
#include "support/pg_cluster.h"
#include "support/state_recount.h"
#include "support/temp_dir.h"

namespace p2p::state {

using testing::Counted;
using testing::CountRows;
using testing::GroupBy;

class StateBackendTest : public ::testing::TestWithParam<Dialect> {
 public:
  static void TearDownTestSuite() { cluster_.reset(); }

 protected:
  void SetUp() override;
  void TearDown() override { db_.reset(); }

  bool postgres() const { return GetParam() == Dialect::kPostgres; }
  // Another StateDb on this test's state (ASSERTs it opens).
  std::unique_ptr<StateDb> Open();
  // An InstanceInfo for instance `name` (token "<name>/1/0", lease `lease_ms`).
  static InstanceInfo Instance(const std::string& name, int64_t lease_ms = 30000);

  // A member of `payer` with `deadline` (unix s).
  static NewMember Member(const std::string& key, int64_t deadline = 100,
                          const std::string& payer = "bison");
  // Moves job `id` from its state in the DB to `to` through SaveJob; the save's result.
  Result<void> Move(StateDb& db, int64_t id, JobState to, int64_t now_ms = 10);
  // The first column of the first row of `sql` on db_ as an integer (0 when no row).
  int64_t Scalar(const std::string& sql);

  const test::PgCluster& cluster() const { return *cluster_; }
  const std::string& schema() const { return schema_; }

  testing::TempDir dir_{"p2p-state-backend-"};
  std::unique_ptr<StateDb> db_;

 private:
  static std::unique_ptr<test::PgCluster> cluster_;
  static int schemas_;
  std::string schema_;
};

inline const auto kStateBackends = ::testing::Values(Dialect::kSqlite, Dialect::kPostgres);
std::string BackendName(const ::testing::TestParamInfo<Dialect>& info);

}  // namespace p2p::state
