// sandbox/client_blocks.h: the block fault's windows, blocks and Retry-After values.
#include "client_blocks.h"

#include <gtest/gtest.h>

namespace p2p::sandbox {
namespace {

using std::chrono::milliseconds;

TEST(ClientBlocks, TheRequestAfterNWithinTheWindowStartsTheBlock) {
  ClientBlocks blocks(BlockParams{3, milliseconds(10'000), milliseconds(3000)});
  EXPECT_FALSE(blocks.Admit("a", 0).refused);
  EXPECT_FALSE(blocks.Admit("a", 1).refused);
  EXPECT_FALSE(blocks.Admit("a", 2).refused);
  ClientBlocks::Verdict fourth = blocks.Admit("a", 3);
  EXPECT_TRUE(fourth.refused);
  EXPECT_TRUE(fourth.started);
  EXPECT_EQ(fourth.until_ms, 3003);
  ClientBlocks::Verdict during = blocks.Admit("a", 3002);
  EXPECT_TRUE(during.refused);
  EXPECT_FALSE(during.started);
  EXPECT_EQ(during.until_ms, 3003);
}

TEST(ClientBlocks, AfterTheBlockTheWindowRestartsEmpty) {
  ClientBlocks blocks(BlockParams{2, milliseconds(10'000), milliseconds(1000)});
  blocks.Admit("a", 0);
  blocks.Admit("a", 1);
  EXPECT_TRUE(blocks.Admit("a", 2).started);  // blocked until 1002
  EXPECT_FALSE(blocks.Admit("a", 1002).refused);
  EXPECT_FALSE(blocks.Admit("a", 1003).refused);
  ClientBlocks::Verdict again = blocks.Admit("a", 1004);
  EXPECT_TRUE(again.started);
  EXPECT_EQ(again.until_ms, 2004);
}

TEST(ClientBlocks, TheWindowSlides) {
  ClientBlocks blocks(BlockParams{2, milliseconds(1000), milliseconds(500)});
  EXPECT_FALSE(blocks.Admit("a", 0).refused);
  EXPECT_FALSE(blocks.Admit("a", 500).refused);
  EXPECT_FALSE(blocks.Admit("a", 1000).refused);  // the request at 0 has left the window
  EXPECT_TRUE(blocks.Admit("a", 1200).refused);   // 500 and 1000 are within (200, 1200]
}

TEST(ClientBlocks, EachClientHasItsOwnWindowAndBlock) {
  ClientBlocks blocks(BlockParams{1, milliseconds(1000), milliseconds(1000)});
  EXPECT_FALSE(blocks.Admit("client:a", 0).refused);
  EXPECT_TRUE(blocks.Admit("client:a", 1).refused);
  EXPECT_FALSE(blocks.Admit("client:b", 2).refused);
  EXPECT_FALSE(blocks.Admit("peer:127.0.0.1", 3).refused);
  EXPECT_TRUE(blocks.Admit("client:a", 4).refused);
}

// 784111777 s = Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
TEST(FormatRetryAfter, EachForm) {
  const int64_t now = 784111770'000;
  EXPECT_EQ(FormatRetryAfter(RetryAfterForm::kSeconds, now, now + 3000), "3");
  EXPECT_EQ(FormatRetryAfter(RetryAfterForm::kSeconds, now, now + 2001), "3");  // rounded up
  EXPECT_EQ(FormatRetryAfter(RetryAfterForm::kSeconds, now, now + 1), "1");
  EXPECT_EQ(FormatRetryAfter(RetryAfterForm::kSeconds, now, now), "1");  // never 0
  EXPECT_EQ(FormatRetryAfter(RetryAfterForm::kDate, now, 784111776'500),
            "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatRetryAfter(RetryAfterForm::kEpoch, now, 784111776'001), "784111777");
  EXPECT_EQ(FormatRetryAfter(RetryAfterForm::kEpoch, now, 784111777'000), "784111777");
  EXPECT_EQ(FormatRetryAfter(RetryAfterForm::kEpochMs, now, 784111776'001), "784111776001");
}

TEST(FormatRetryAfter, FormNames) {
  EXPECT_EQ(RetryAfterFormName(RetryAfterForm::kSeconds), "seconds");
  EXPECT_EQ(RetryAfterFormName(RetryAfterForm::kDate), "date");
  EXPECT_EQ(RetryAfterFormName(RetryAfterForm::kEpoch), "epoch");
  EXPECT_EQ(RetryAfterFormName(RetryAfterForm::kEpochMs), "epoch-ms");
}

}  // namespace
}  // namespace p2p::sandbox
