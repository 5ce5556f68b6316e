#include "store/row_writer_thread.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace p2p::store {
namespace {

using Row = RowWriterThread::Row;

// Records what the thread applied (read by the test only after Drain or destruction).
struct Applied {
  std::vector<std::string> rows;  // "owner:key:id:line"
  std::thread::id thread;
};

RowWriterThread::ApplyFn Recorder(Applied* out, const void* fail_owner = nullptr,
                                  std::string_view fail_id = {}) {
  return [=](const Row& r) -> Result<void> {
    out->thread = std::this_thread::get_id();
    if (r.owner == fail_owner && r.id == fail_id) {
      return MakeError(ErrorKind::kDiskFull, "upsert " + std::string(r.id) + ": disk full");
    }
    out->rows.push_back(std::to_string(reinterpret_cast<uintptr_t>(r.owner) % 10) + ":" +
                        std::string(r.member_key) + ":" + std::string(r.id) + ":" +
                        std::string(r.line));
    return Ok();
  };
}

const void* Owner(uintptr_t n) { return reinterpret_cast<const void*>(n); }

TEST(RowWriterThread, AppliesEveryRowInOrderOnItsOwnThreadByDrain) {
  Applied applied;
  RowWriterThread t(Recorder(&applied), 64, 3);  // batches of 3 rows
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(t.Add(Row{Owner(1), i % 2 ? "m-2" : "", "id" + std::to_string(i), "{}"}).ok());
  }
  t.Drain();
  ASSERT_EQ(applied.rows.size(), 10u);
  EXPECT_EQ(applied.rows[0], "1::id0:{}");
  EXPECT_EQ(applied.rows[1], "1:m-2:id1:{}");
  EXPECT_EQ(applied.rows[9], "1:m-2:id9:{}");
  EXPECT_NE(applied.thread, std::this_thread::get_id());
  EXPECT_EQ(t.batches(), 4u);  // 3 full batches + the rest handed over by Drain
}

TEST(RowWriterThread, TheRowsAreCopiedSoTheCallersBufferCanBeReused) {
  Applied applied;
  RowWriterThread t(Recorder(&applied), 1 << 20, 1000);
  std::string buf = "first";
  ASSERT_TRUE(t.Add(Row{Owner(1), "", "a", buf}).ok());
  buf = "other";
  t.Drain();
  EXPECT_EQ(applied.rows, std::vector<std::string>{"1::a:first"});
}

TEST(RowWriterThread, HandingOverWaitsWhileTheOtherBatchIsStillBeingApplied) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  std::once_flag once;
  int applied = 0;
  RowWriterThread t(
      [&](const Row&) -> Result<void> {
        std::call_once(once, [&] { started.set_value(); });
        gate.wait();
        ++applied;
        return Ok();
      },
      1 << 20, 1);  // every row is a batch
  ASSERT_TRUE(t.Add(Row{Owner(1), "", "a", "{}"}).ok());  // batch 1: the thread takes it
  started.get_future().wait();
  // Batch 2 is full at once but has nowhere to go until batch 1 is applied: memory stays at two
  // batches (the one being applied, the one being filled).
  auto second = std::async(std::launch::async, [&] { return t.Add(Row{Owner(1), "", "b", "{}"}); });
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  release.set_value();
  EXPECT_TRUE(second.get().ok());
  t.Drain();
  EXPECT_EQ(applied, 2);
  EXPECT_EQ(t.batches(), 2u);
  EXPECT_GE(t.waits(), 1u);
}

TEST(RowWriterThread, AnErrorGoesToItsOwnerOnlyAndItsLaterRowsAreSkipped) {
  Applied applied;
  RowWriterThread t(Recorder(&applied, Owner(1), "bad"), 1 << 20, 2);
  ASSERT_TRUE(t.Add(Row{Owner(1), "", "bad", "{}"}).ok());
  ASSERT_TRUE(t.Add(Row{Owner(2), "", "x", "{}"}).ok());  // batch full: handed over
  t.Drain();
  // The owner hears of it at its next row, which is not queued.
  Result<void> next = t.Add(Row{Owner(1), "", "later", "{}"});
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().kind, ErrorKind::kDiskFull);
  EXPECT_EQ(next.error().message, "upsert bad: disk full");
  ASSERT_TRUE(t.Add(Row{Owner(2), "", "y", "{}"}).ok());
  t.Drain();
  EXPECT_EQ(applied.rows, (std::vector<std::string>{"2::x:{}", "2::y:{}"}));
  EXPECT_FALSE(t.TakeError(Owner(1)).has_value());  // reported once
  EXPECT_FALSE(t.TakeError(Owner(2)).has_value());
}

TEST(RowWriterThread, TakeErrorAfterDrainGivesTheQueuedRowsError) {
  Applied applied;
  RowWriterThread t(Recorder(&applied, Owner(3), "z"), 1 << 20, 100);
  ASSERT_TRUE(t.Add(Row{Owner(3), "", "z", "{}"}).ok());
  ASSERT_TRUE(t.Add(Row{Owner(3), "", "after", "{}"}).ok());  // skipped: its owner failed
  t.Drain();
  auto e = t.TakeError(Owner(3));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message, "upsert z: disk full");
  EXPECT_TRUE(applied.rows.empty());
}

TEST(RowWriterThread, DestructionAppliesWhatIsQueuedThenStops) {
  Applied applied;
  {
    RowWriterThread t(Recorder(&applied), 1 << 20, 100);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(t.Add(Row{Owner(1), "", "r", "{}"}).ok());
  }
  EXPECT_EQ(applied.rows.size(), 5u);
}

TEST(RowWriterThread, AnIdleThreadStopsAtOnce) {
  Applied applied;
  { RowWriterThread t(Recorder(&applied), 1 << 20, 100); }
  EXPECT_TRUE(applied.rows.empty());
}

}  // namespace
}  // namespace p2p::store
