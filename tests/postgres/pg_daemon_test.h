// PgDaemonTest: the fixture of the daemon-against-sandbox tests with the PostgreSQL store: a
// throwaway cluster per test (support/pg_cluster.h) and HarnessOptions that point the daemon's
// store at it (integration/daemon_harness.h: schema p2p, the password in a 0600
// store.password_file). A cluster that will not start FAILs the test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "integration/daemon_harness.h"
#include "support/pg_cluster.h"

namespace p2p::testing {

class PgDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    pg_ = test::PgCluster::Start(&why);
    ASSERT_NE(pg_, nullptr) << why;
  }

  HarnessOptions Options() const {
    HarnessOptions o;
    o.store = "postgres";
    o.pg = pg_.get();
    return o;
  }

  // Rows in all type tables of schema p2p, read by SQL; -1 when psql fails.
  int64_t StoredRows() const {
    std::string err;
    auto rows = PgStoreRows(*pg_, "p2p", "", &err);
    EXPECT_TRUE(rows) << err;
    return rows ? static_cast<int64_t>(rows->size()) : -1;
  }

  std::unique_ptr<test::PgCluster> pg_;
};

}  // namespace p2p::testing
