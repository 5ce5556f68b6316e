// The scheduler's and the lease claim's queries on a PostgreSQL state of 20,000 members use their
// partial indexes, never a sequential scan of members: EXPLAIN of StateDb::SchedulerQueries()
// (runnable, next wake, next due) and StateDb::ClusterQueries() (live leases, claim, renewal)
// after ANALYZE, with the planner's settings as they are (no enable_seqscan=off), both as the
// custom plan of the values bound and as the generic plan a prepared statement settles on.
// Two fills: a January backlog (every member of the big payer pending) and a steady state (most
// members complete, some waiting with next_ms in the future, some leased).
#include <cstdio>
#include <string>
#include <vector>

#include "postgres/state_backend.h"
#include "state/sql.h"

namespace p2p::state {
namespace {

constexpr int64_t kNowMs = 1'800'000'000'000;

class StateQueryPlans : public StateBackendTest {
 protected:
  // 20,000 members: payer bison holds `big_share` percent of them, three small payers the rest.
  // Member i is complete when i % 100 < complete_pct, else active with next_ms spread over the
  // next hour (half due now), and leased when i % 97 == 0.
  void Fill(int complete_pct) {
    const std::string sql =
        "INSERT INTO members(member_key, payer, state, row_json, deadline, consent_end, "
        "created_ms, updated_ms, next_ms, completed_ms, lease_owner, lease_until_ms) "
        "SELECT 'm' || i, CASE WHEN i % 10 < 7 THEN 'bison' ELSE 'p' || (i % 3) END, "
        "CASE WHEN i % 100 < " + std::to_string(complete_pct) + " THEN 6 ELSE i % 6 END, '{}', "
        "1800000000 + i % 5000 * 60, 30000, 0, 0, "
        "CASE WHEN i % 2 = 0 THEN 0 ELSE " + std::to_string(kNowMs) + " + i % 3600 * 1000 END, "
        "NULL, CASE WHEN i % 97 = 0 THEN 'x/1/0' END, "
        "CASE WHEN i % 97 = 0 THEN " + std::to_string(kNowMs + 30000) + " ELSE 0 END "
        "FROM generate_series(1, 20000) AS g(i)";
    ASSERT_TRUE(Exec(db_->handle(), sql, "fill members"));
    ASSERT_TRUE(Exec(db_->handle(), "ANALYZE", "analyze"));
  }

  // EXPLAIN of `sql` with the scheduler's values: ?1 bison (the lease owner for a query on
  // lease_owner), ?2 now, ?3 64, ?4 the owner, ?5 the lease end, ?6 no running jobs. Run as PREPARE and EXPLAIN
  // EXECUTE, so that plan_cache_mode decides between the custom and the generic plan (an
  // EXPLAIN with bound parameters always plans for their values).
  std::string Plan(std::string_view sql) {
    const std::string text(sql);
    int params = 0;
    for (int n = 1; n <= 6; ++n) {
      if (text.find("?" + std::to_string(n)) != std::string::npos) params = n;
    }
    const bool by_owner = text.find("WHERE lease_owner=?1") != std::string::npos;
    static const char* const kTypes[] = {"text", "bigint", "bigint", "text", "bigint", "text"};
    const std::string kValues[] = {by_owner ? "'x/1/0'" : "'bison'", std::to_string(kNowMs),
                                   "64", "'a/1/0'", std::to_string(kNowMs + 30000), "''"};
    std::string types, values;
    for (int i = 0; i < params; ++i) {
      types += (i ? ", " : "") + std::string(kTypes[i]);
      values += (i ? ", " : "") + kValues[i];
    }
    const std::string name = "plan_" + std::to_string(++prepared_);
    auto made = Exec(db_->handle(), "PREPARE " + name + "(" + types + ") AS " + text, "prepare");
    EXPECT_TRUE(made) << made.error().message;
    if (!made) return "";
    auto st = Stmt::Prepare(db_->handle(), "EXPLAIN EXECUTE " + name + "(" + values + ")");
    EXPECT_TRUE(st) << st.error().message;
    if (!st) return "";
    std::string plan;
    for (;;) {
      auto row = st->Step("explain");
      EXPECT_TRUE(row) << sql << ": " << row.error().message;
      if (!row || !*row) break;
      plan += st->Text(0) + "\n";
    }
    return plan;
  }

  // Every query's plan, custom and generic, reads members through one of its indexes.
  void ExpectIndexedPlans(const char* fill) {
    std::vector<std::string_view> queries = StateDb::SchedulerQueries();
    for (std::string_view q : StateDb::ClusterQueries()) queries.push_back(q);
    for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
      ASSERT_TRUE(Exec(db_->handle(), std::string("SET plan_cache_mode = ") + mode, "plan mode"));
      for (std::string_view sql : queries) {
        SCOPED_TRACE(std::string(fill) + ", " + mode + ": " + std::string(sql));
        const std::string plan = Plan(sql);
        std::printf("[ info     ] %s, %s: %s\n%s", fill, mode, std::string(sql).c_str(),
                    plan.c_str());
        EXPECT_EQ(plan.find("Seq Scan on members"), std::string::npos) << plan;
        EXPECT_EQ(plan.find("Bitmap Heap Scan on members"), std::string::npos) << plan;
        const bool indexed = plan.find("using members_runnable") != std::string::npos ||
                             plan.find("using members_wake") != std::string::npos ||
                             plan.find("using members_leased") != std::string::npos ||
                             plan.find("using members_lease_owner") != std::string::npos;
        EXPECT_TRUE(indexed) << plan;
        if (std::string(mode) == "force_generic_plan") {
          EXPECT_NE(plan.find("$1"), std::string::npos) << "not the generic plan: " << plan;
        }
      }
    }
  }

 private:
  int prepared_ = 0;
};

TEST_P(StateQueryPlans, SchedulerAndLeaseQueriesUseTheirIndexesInAJanuaryBacklog) {
  Fill(0);
  ExpectIndexedPlans("backlog");
}

TEST_P(StateQueryPlans, SchedulerAndLeaseQueriesUseTheirIndexesInTheSteadyState) {
  Fill(90);
  ExpectIndexedPlans("steady");
}

INSTANTIATE_TEST_SUITE_P(Postgres, StateQueryPlans, ::testing::Values(Dialect::kPostgres),
                         BackendName);

}  // namespace
}  // namespace p2p::state
