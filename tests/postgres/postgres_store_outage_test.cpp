// PostgresStore when its server goes away: a restart between files is not noticed, a restart
// with rows staged fails those files (kUnavailable: the pipeline pauses and downloads them
// again) and leaves none of their rows, a stopped server fails a commit at once, and the store
// works again when the server is back. Commits are reported from the store's own thread.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "postgres/postgres_store_fixture.h"

namespace p2p::store {
namespace {

using testing::ErrorText;

// CommitAsync of `w`, waited for: the result, and whether `done` ran on another thread.
struct AsyncCommit {
  std::string result;
  bool on_store_thread = false;
};
AsyncCommit CommitAndWait(FileWriter& w) {
  auto p = std::make_shared<std::promise<AsyncCommit>>();  // outlives a report that comes late
  const std::thread::id caller = std::this_thread::get_id();
  w.CommitAsync([p, caller](Result<StoreMark> r) {
    p->set_value({ErrorText(r), std::this_thread::get_id() != caller});
  });
  auto f = p->get_future();
  if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    return {"no report", false};
  }
  return f.get();
}

TEST_F(PgStoreTest, RestartBetweenFilesIsNotAnError) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 1), {"p1"}, "a"), "ok");
  std::string why;
  ASSERT_TRUE(pg_->Restart(&why)) << why;
  // The writer's session is dead: the next file reconnects.
  auto w = store->Begin(FileCtx("Patient", kT1, 2));
  ASSERT_TRUE(w);
  ASSERT_EQ(ErrorText((*w)->Put("p2", Resource("Patient", "p2", "b"))), "ok");
  const AsyncCommit c = CommitAndWait(**w);
  EXPECT_EQ(c.result, "ok");
  EXPECT_TRUE(c.on_store_thread);
  // So do calls (Scan, CountByType, Delete, PurgeMember).
  ASSERT_TRUE(pg_->Restart(&why)) << why;
  auto counts = store->CountByType();
  ASSERT_TRUE(counts) << ErrorText(counts);
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 2}}));
}

TEST_F(PgStoreTest, RestartWithRowsStagedFailsThoseFilesAndLeavesNoneOfTheirRows) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto stale = store->Begin(FileCtx("Patient", kT1, 1));
  auto renewed = store->Begin(FileCtx("Patient", kT1, 2));
  ASSERT_TRUE(stale && renewed);
  ASSERT_EQ(ErrorText((*stale)->Put("a1", Resource("Patient", "a1", "x"))), "ok");
  ASSERT_EQ(ErrorText((*renewed)->Put("r1", Resource("Patient", "r1", "x"))), "ok");
  store->Quiesce();  // the rows are in the session's staging table
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 3), {"b1"}, "x"), "ok");

  std::string why;
  ASSERT_TRUE(pg_->Restart(&why)) << why;
  // Nothing noticed the restart: the commit finds the session dead.
  const AsyncCommit a = CommitAndWait(**stale);
  EXPECT_EQ(a.result.substr(0, 40), "unavailable: begin: server unreachable: ") << a.result;
  EXPECT_TRUE(a.on_store_thread);
  // Another file reconnects: the new session has none of `renewed`'s rows.
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 4), {"d1"}, "x"), "ok");
  EXPECT_EQ(CommitAndWait(**renewed).result,
            "unavailable: the connection to the server was lost with rows of this file staged");
  EXPECT_EQ(Sql("SELECT string_agg(id, ',' ORDER BY id) FROM p2p.\"Patient\""), "b1,d1");

  // Downloaded again, they land.
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 1), {"a1"}, "x"), "ok");
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 2), {"r1"}, "x"), "ok");
  EXPECT_EQ(Sql("SELECT string_agg(id, ',' ORDER BY id) FROM p2p.\"Patient\""), "a1,b1,d1,r1");
}

TEST_F(PgStoreTest, StoppedServerFailsACommitAtOnceAndTheStoreRecovers) {
  PostgresStore::Tuning tuning;
  tuning.reconnect_interval_ms = 0;  // every use may reconnect
  auto store = Open(tuning);
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 1), {"p1"}, "a"), "ok");
  std::string why;
  ASSERT_TRUE(pg_->Stop(&why)) << why;

  auto w = store->Begin(FileCtx("Patient", kT1, 2));
  ASSERT_TRUE(w);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(ErrorText((*w)->Put("p2", Resource("Patient", "p2", "b"))), "ok");
  const AsyncCommit c = CommitAndWait(**w);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(c.result.substr(0, 13), "unavailable: ") << c.result;
  EXPECT_NE(c.result.find("server unreachable"), std::string::npos) << c.result;
  EXPECT_LT(took, std::chrono::seconds(2));  // a refused connection, not connect_timeout
  // Calls too.
  EXPECT_EQ(ErrorText(store->CountByType()).substr(0, 13), "unavailable: ");
  EXPECT_EQ(ErrorText(store->PurgeMember("bison", "m-1")).substr(0, 13), "unavailable: ");

  ASSERT_TRUE(pg_->StartAgain(&why)) << why;
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 2), {"p2"}, "b"), "ok");
  EXPECT_EQ(Sql("SELECT string_agg(id, ',' ORDER BY id) FROM p2p.\"Patient\""), "p1,p2");
}

TEST_F(PgStoreTest, OpenWithTheServerDownSucceedsAndWritesWaitForIt) {
  std::string why;
  ASSERT_TRUE(pg_->Stop(&why)) << why;
  PostgresStore::Tuning tuning;
  tuning.reconnect_interval_ms = 0;  // every use may reconnect
  auto store = Open(tuning);  // the daemon starts; its downloads pause until the server is up
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Write(*store, FileCtx("Patient", kT1, 1), {"p1"}, "a").substr(0, 13), "unavailable: ");
  ASSERT_TRUE(pg_->StartAgain(&why)) << why;
  // Once open, a refused login (a password rotated at the server first) pauses the writes like
  // an outage: never kAuth, which the pipeline reads as the payer's token endpoint refusing.
  ASSERT_EQ(Sql("ALTER ROLE p2p_ingest PASSWORD 'rotated'"), "");
  EXPECT_EQ(Write(*store, FileCtx("Patient", kT1, 1), {"p1"}, "a"),
            "unavailable: login refused: connection to server at \"127.0.0.1\", port " +
                std::to_string(pg_->port()) +
                " failed: FATAL:  password authentication failed for user \"p2p_ingest\"");
  ASSERT_EQ(Sql("ALTER ROLE p2p_ingest PASSWORD '" + pg_->password() + "'"), "");
  ASSERT_EQ(Write(*store, FileCtx("Patient", kT1, 1), {"p1"}, "a"), "ok");
  EXPECT_EQ(Rows("Patient"), "bison|p1|m-1|2025-01-01 00:00:00|1|a");
}

}  // namespace
}  // namespace p2p::store
