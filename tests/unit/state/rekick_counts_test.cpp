// Re-kicks by cause (migrations/008_rekick_budgets.sql): the job row keeps the total and the
// part caused by gone or expired files; both survive a save and a reload, and a database from
// before the split attributes its re-kicks by the cause of the last one.
#include <sqlite3.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "state/migrations.h"
#include "state/sql.h"
#include "state/sqlite/sqlite_conn.h"
#include "state/state_db.h"
#include "support/temp_dir.h"

namespace p2p::state {
namespace {

TEST(RekickCounts, BothCountsSurviveASaveAndAReload) {
  testing::TempDir dir;
  auto db = StateDb::Open(dir.File("state.db"));
  ASSERT_TRUE(db) << db.error().message;
  NewMember m;
  m.member_key = "M1";
  m.payer = "bison";
  m.row_json = "{}";
  m.deadline = 100;
  m.consent_end_days = 30000;
  ASSERT_TRUE((*db)->TakeIn("a.csv", {m}, 0, 1));
  auto job = (*db)->LoadJob(1);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->rekicks, 0);
  EXPECT_EQ(job->expired_rekicks, 0);
  job->rekicks = 5;
  job->expired_rekicks = 3;
  ASSERT_TRUE((*db)->SaveJob(*job, JobState::kPending, 2));
  db = StateDb::Open(dir.File("state.db"));  // a fresh connection reads what was committed
  ASSERT_TRUE(db);
  auto again = (*db)->LoadJob(1);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->rekicks, 5);
  EXPECT_EQ(again->expired_rekicks, 3);
  EXPECT_EQ(again->failed_rekicks(), 2);
}

TEST(RekickCounts, AnOlderDatabaseAttributesItsReKicksToTheLastCause) {
  testing::TempDir dir;
  const std::string path = dir.File("state.db");
  {
    auto conn = SqliteConn::Open(path);
    ASSERT_TRUE(conn) << conn.error().message;
    Conn* raw = conn->get();
    std::vector<Migration> before;
    for (const Migration& mig : EmbeddedMigrations()) {
      if (mig.version < 8) before.push_back(mig);
    }
    auto v = ApplyMigrations(raw, before);
    ASSERT_TRUE(v) << v.error().message;
    ASSERT_EQ(*v, 7);
    ASSERT_TRUE(Exec(raw,
                     "INSERT INTO members(member_key, payer, state, row_json, deadline, "
                     "consent_end, created_ms, updated_ms, rekicks, error_class) VALUES "
                     "('M1','bison',3,'{}',1,1,0,0,2,'export_failed'), "
                     "('M2','bison',3,'{}',1,1,0,0,4,'file_gone'), "
                     "('M3','bison',4,'{}',1,1,0,0,1,'expired'), "
                     "('M4','bison',4,'{}',1,1,0,0,3,'export_gone'), "
                     "('M5','bison',0,'{}',1,1,0,0,0,NULL)",
                     "version 7 members"));
    conn->reset();
  }
  auto db = StateDb::Open(path);
  ASSERT_TRUE(db) << db.error().message;
  const struct {
    int64_t id, failed, expired;
  } want[] = {{1, 2, 0}, {2, 0, 4}, {3, 0, 1}, {4, 0, 3}, {5, 0, 0}};
  for (const auto& w : want) {
    auto job = (*db)->LoadJob(w.id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->failed_rekicks(), w.failed) << w.id;
    EXPECT_EQ(job->expired_rekicks, w.expired) << w.id;
  }
}

}  // namespace
}  // namespace p2p::state
