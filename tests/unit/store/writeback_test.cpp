#include "store/writeback.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "store/posix_file.h"
#include "unit/store/store_test_util.h"

namespace p2p::store {
namespace {

using testing::ReadAll;
using testing::TempDir;

TEST(WritebackThread, WritesEachJobAtItsOffsetByTheTimeWaitForReturns) {
  TempDir dir;
  auto fd = OpenFile(dir / "f", O_RDWR | O_CREAT);
  ASSERT_TRUE(fd.ok());
  WritebackThread t;
  const std::string what = "write f";
  Result<void> status;
  std::vector<std::string> parts = {"hello ", "writeback ", "thread\n"};
  uint64_t last = 0;
  int64_t offset = 0;
  for (const std::string& p : parts) {
    WritebackThread::Job job;
    job.fd = fd->get();
    job.offset = offset;
    job.data = p.data();
    job.size = p.size();
    job.start_from = 0;  // the sync_file_range calls run too (no durability claim here)
    job.start_len = offset + static_cast<int64_t>(p.size());
    job.wait_from = 0;
    job.wait_len = offset;
    job.what = &what;
    job.status = &status;
    const uint64_t ticket = t.Submit(job);
    EXPECT_GT(ticket, last);
    last = ticket;
    offset += static_cast<int64_t>(p.size());
  }
  t.WaitFor(last);
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(ReadAll(dir / "f"), "hello writeback thread\n");
}

TEST(WritebackThread, AWriteErrorIsLeftInTheJobsStatusWithItsContext) {
  TempDir dir;
  testing::WriteAll(dir / "ro", "");
  auto fd = OpenFile(dir / "ro", O_RDONLY);
  ASSERT_TRUE(fd.ok());
  WritebackThread t;
  const std::string what = "write " + (dir / "ro");
  Result<void> status;
  const std::string data = "x";
  WritebackThread::Job job;
  job.fd = fd->get();
  job.data = data.data();
  job.size = data.size();
  job.what = &what;
  job.status = &status;
  t.WaitFor(t.Submit(job));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kIo);
  EXPECT_EQ(status.error().message, what + ": Bad file descriptor");
}

TEST(WritebackThread, DestructionRunsWhatIsQueuedThenStops) {
  TempDir dir;
  auto fd = OpenFile(dir / "f", O_RDWR | O_CREAT);
  ASSERT_TRUE(fd.ok());
  const std::string what = "write f";
  Result<void> status;
  const std::string data(4096, 'a');
  {
    WritebackThread t;
    for (int i = 0; i < 8; ++i) {
      WritebackThread::Job job;
      job.fd = fd->get();
      job.offset = i * 4096;
      job.data = data.data();
      job.size = data.size();
      job.what = &what;
      job.status = &status;
      t.Submit(job);
    }
  }
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(ReadAll(dir / "f").size(), 8u * 4096u);
}

TEST(WritebackThread, WaitForNothingReturnsAtOnce) {
  WritebackThread t;
  t.WaitFor(0);
}

}  // namespace
}  // namespace p2p::store
