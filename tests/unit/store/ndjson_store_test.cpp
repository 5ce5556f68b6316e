#include "store/ndjson_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "unit/store/store_test_util.h"

namespace p2p::store {
namespace {

using testing::Exists;
using testing::ModeOf;
using testing::ReadAll;
using testing::TempDir;

FileContext Ctx(std::string type, std::string payer = "bison", std::string member = "m-1",
                int64_t job = 7, int file_index = 0) {
  return FileContext{std::move(payer), std::move(member), job,
                     file_index,       std::move(type),   "2024-01-02T03:04:05Z"};
}

std::string Line(const std::string& id, const std::string& extra = "") {
  return R"({"resourceType":"Patient","identifier":[{"id":"nested"}],"id":")" + id + "\"" + extra +
         "}";
}

std::unique_ptr<NdjsonStore> OpenStore(const std::string& dir) {
  auto store = NdjsonStore::Open(dir);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
  return store.ok() ? std::move(*store) : nullptr;
}

StoreMark WriteFile(ResourceStore& store, const FileContext& ctx,
                    const std::vector<std::string>& lines) {
  auto w = store.Begin(ctx);
  EXPECT_TRUE(w.ok()) << w.error().message;
  if (!w.ok()) return {};
  for (const auto& line : lines) {
    auto put = (*w)->Put("", line);
    EXPECT_TRUE(put.ok()) << put.error().message;
  }
  auto mark = (*w)->Commit();
  EXPECT_TRUE(mark.ok()) << mark.error().message;
  return mark.ok() ? *mark : StoreMark{};
}

std::vector<std::string> ScanAll(ResourceStore& store, const std::string& type) {
  std::vector<std::string> out;
  auto r = store.Scan(type, [&](const StoredResource& s) {
    out.push_back(std::string(s.payer) + "/" + std::string(s.member_key) + "/" + std::string(s.id));
  });
  EXPECT_TRUE(r.ok()) << r.error().message;
  return out;
}

TEST(NdjsonStore, CommitAppendsTheLinesAndOneIndexLine) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  StoreMark mark = WriteFile(*store, Ctx("Patient"), {Line("a"), Line("b")});
  const std::string expected = Line("a") + "\n" + Line("b") + "\n";
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), expected);
  const std::string index =
      "0 " + std::to_string(expected.size()) + " bison m-1 2024-01-02T03:04:05Z 7 0 2\n";
  EXPECT_EQ(ReadAll(dir / "Patient.index"), index);
  EXPECT_EQ(mark.type, "Patient");
  EXPECT_EQ(mark.ndjson_end, static_cast<int64_t>(expected.size()));
  EXPECT_EQ(mark.index_end, static_cast<int64_t>(index.size()));
  EXPECT_FALSE(Exists(dir / ".tmp/7-0.part"));
}

TEST(NdjsonStore, AbortLeavesNothingBehind) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put("a", std::string(2 << 20, 'x')).ok());  // written past the buffer
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson").size(), 2u << 20);  // its "\n" is still buffered
  (*w)->Abort();
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), "");
  EXPECT_EQ(ReadAll(dir / "Patient.index"), "");
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 0}}));
}

TEST(NdjsonStore, TheFirstWriterOfATypeWritesPastTheEndOthersATemporaryFile) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Patient", "bison", "m-0", 1), {Line("z")});
  const std::string committed = ReadAll(dir / "Patient.ndjson");
  auto first = store->Begin(Ctx("Patient", "bison", "m-1", 2));
  auto second = store->Begin(Ctx("Patient", "bison", "m-2", 3));
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string big = Line("a", ",\"pad\":\"" + std::string(2 << 20, 'y') + "\"");
  ASSERT_TRUE((*first)->Put("a", big).ok());
  ASSERT_TRUE((*second)->Put("b", big).ok());
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), committed + big);  // its "\n" is still buffered
  EXPECT_FALSE(Exists(dir / ".tmp/2-0.part"));
  EXPECT_TRUE(Exists(dir / ".tmp/3-0.part"));
  // The second commits first: the first writer's bytes move to its own temporary file.
  ASSERT_TRUE((*second)->Commit().ok());
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), committed + big + "\n");
  EXPECT_TRUE(Exists(dir / ".tmp/2-0.part"));
  ASSERT_TRUE((*first)->Put("c", Line("c")).ok());
  auto committed_first = (*first)->Commit();
  ASSERT_TRUE(committed_first.ok()) << committed_first.error().message;
  EXPECT_FALSE(Exists(dir / ".tmp/2-0.part"));
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), committed + big + "\n" + big + "\n" + Line("c") + "\n");
  EXPECT_EQ(ScanAll(*store, "Patient"),
            (std::vector<std::string>{"bison/m-0/z", "bison/m-2/a", "bison/m-1/a", "bison/m-1/c"}));
  // A writer that starts now has the tail to itself again.
  auto third = store->Begin(Ctx("Patient", "bison", "m-3", 4));
  ASSERT_TRUE(third.ok());
  ASSERT_TRUE((*third)->Put("d", big).ok());
  EXPECT_FALSE(Exists(dir / ".tmp/4-0.part"));
  (*third)->Abort();
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 4}}));
}

// PutBlock: a run of lines written from the caller's buffer, after the lines Put()
// before it and before those Put() after it; the buffer must stay put until WaitBlock.
std::string Lines(const std::string& prefix, int n, size_t pad) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += Line(prefix + std::to_string(i), ",\"pad\":\"" + std::string(pad, 'p') + "\"") + "\n";
  }
  return out;
}

TEST(NdjsonStore, BlocksAreWrittenInOrderWithPutLinesAndCountedAsLines) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->TakesBlocks());
  // Blocks larger than the writer's buffer and small ones, with Put() lines around them.
  std::vector<std::string> blocks = {Lines("a", 700, 1000), Lines("b", 3, 10), Lines("c", 900, 700)};
  std::string want;
  uint64_t last = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    ASSERT_TRUE((*w)->Put("x", Line("x" + std::to_string(i))).ok());
    want += Line("x" + std::to_string(i)) + "\n";
    const int64_t n = std::count(blocks[i].begin(), blocks[i].end(), '\n');
    auto token = (*w)->PutBlock(blocks[i], n);
    ASSERT_TRUE(token.ok()) << token.error().message;
    EXPECT_GT(*token, last);  // direct mode: written later, by the writeback thread
    last = *token;
    want += blocks[i];
  }
  ASSERT_TRUE((*w)->Put("y", Line("y")).ok());
  want += Line("y") + "\n";
  (*w)->WaitBlock(last);
  auto mark = (*w)->Commit();
  ASSERT_TRUE(mark.ok()) << mark.error().message;
  EXPECT_TRUE(ReadAll(dir / "Patient.ndjson") == want);
  EXPECT_EQ(mark->ndjson_end, static_cast<int64_t>(want.size()));
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 3 + 700 + 3 + 900 + 1}}));
  EXPECT_EQ(ScanAll(*store, "Patient").size(), 3u + 700 + 3 + 900 + 1);
}

TEST(NdjsonStore, ABlocksBufferMayChangeOnceWaitBlockReturns) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok());
  const std::string want = Lines("a", 30000, 1000);  // ~31 MB: a write that takes a while
  std::string buffer = want;
  auto token = (*w)->PutBlock(buffer, 30000);
  ASSERT_TRUE(token.ok());
  (*w)->WaitBlock(*token);
  buffer.assign(buffer.size(), '#');  // a slot refilled right away: already written
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_TRUE(ReadAll(dir / "Patient.ndjson") == want);
}

TEST(NdjsonStore, BlocksOfATemporaryFileWriterOrOneMovedThereAreCopied) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto first = store->Begin(Ctx("Patient", "bison", "m-1", 2));
  auto second = store->Begin(Ctx("Patient", "bison", "m-2", 3));
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string a = Lines("a", 800, 900), b = Lines("b", 800, 900);
  // The second writer has a temporary file: its block is copied at once (token 0).
  auto tb = (*second)->PutBlock(b, 800);
  ASSERT_TRUE(tb.ok());
  EXPECT_EQ(*tb, 0u);
  // The first one's block is still being written when the second commits and moves the
  // first one's bytes to its own temporary file: nothing of it may be lost or doubled.
  std::string a_buffer = a;
  auto ta = (*first)->PutBlock(a_buffer, 800);
  ASSERT_TRUE(ta.ok());
  ASSERT_TRUE((*second)->Commit().ok());
  (*first)->WaitBlock(*ta);
  a_buffer.assign(a_buffer.size(), '#');  // the caller may reuse its buffer now
  auto tc = (*first)->PutBlock(Lines("c", 2, 5), 2);  // a temporary file writer now: copied
  ASSERT_TRUE(tc.ok());
  EXPECT_EQ(*tc, 0u);
  ASSERT_TRUE((*first)->Commit().ok());
  EXPECT_TRUE(ReadAll(dir / "Patient.ndjson") == b + a + Lines("c", 2, 5));
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 1602}}));
}

TEST(NdjsonStore, AnAbortedWritersBlocksLeaveNothingBehind) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Patient", "bison", "m-0", 1), {Line("z")});
  const std::string committed = ReadAll(dir / "Patient.ndjson");
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok());
  const std::string a = Lines("a", 1000, 1000);
  ASSERT_TRUE((*w)->PutBlock(a, 1000).ok());
  (*w)->Abort();  // waits for the block's write, then cuts it off
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), committed);
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 1}}));
}

TEST(NdjsonStore, UncommittedBytesPastTheEndAreNotCountedNorScanned) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Patient", "bison", "m-1", 1), {Line("a")});
  auto w = store->Begin(Ctx("Patient", "bison", "m-2", 2));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put("b", std::string(2 << 20, 'x')).ok());
  EXPECT_EQ(ScanAll(*store, "Patient"), (std::vector<std::string>{"bison/m-1/a"}));
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 1}}));
}

TEST(NdjsonStore, RecoverUndoesACommitThatWasNotRecorded) {
  TempDir dir;
  StoreMark recorded;
  {
    auto store = OpenStore(dir.path());
    recorded = WriteFile(*store, Ctx("Patient", "bison", "m-1", 1), {Line("a")});
    WriteFile(*store, Ctx("Patient", "bison", "m-2", 2), {Line("b"), Line("c")});
    // crash: the second file's mark never reached the state DB
  }
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->Recover({{"Patient", recorded}}).ok());
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("a") + "\n");
  EXPECT_EQ(static_cast<int64_t>(ReadAll(dir / "Patient.index").size()), recorded.index_end);
  // the re-download appends after the recorded end: no doubled lines
  WriteFile(*store, Ctx("Patient", "bison", "m-2", 2), {Line("b"), Line("c")});
  EXPECT_EQ(ScanAll(*store, "Patient"),
            (std::vector<std::string>{"bison/m-1/a", "bison/m-2/b", "bison/m-2/c"}));
}

TEST(NdjsonStore, RecoverTruncatesTypesWithoutAMarkToZero) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  StoreMark patient = WriteFile(*store, Ctx("Patient"), {Line("a")});
  WriteFile(*store, Ctx("Claim"), {Line("c")});
  ASSERT_TRUE(store->Recover({{"Patient", patient}}).ok());
  EXPECT_EQ(ReadAll(dir / "Claim.ndjson"), "");
  EXPECT_EQ(ReadAll(dir / "Claim.index"), "");
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("a") + "\n");
}

TEST(NdjsonStore, RecoverRemovesUncommittedTemporaryFilesAndBytesPastTheMark) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto direct = store->Begin(Ctx("Patient", "bison", "m-1", 3, 1));
  auto w = store->Begin(Ctx("Patient", "bison", "m-1", 3, 2));
  ASSERT_TRUE(direct.ok() && w.ok());
  ASSERT_TRUE((*direct)->Put("a", std::string(2 << 20, 'x')).ok());  // larger than the buffer
  ASSERT_TRUE((*w)->Put("a", std::string(2 << 20, 'x')).ok());
  EXPECT_TRUE(Exists(dir / ".tmp/3-2.part"));
  // crash: neither file was committed
  auto restarted = OpenStore(dir.path());
  ASSERT_TRUE(restarted->Recover({}).ok());
  EXPECT_FALSE(Exists(dir / ".tmp/3-2.part"));
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), "");
}

TEST(NdjsonStore, RecoverRefusesAFileShorterThanItsMark) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Patient"), {Line("a")});
  auto r = store->Recover({{"Patient", StoreMark{"Patient", 1000, 5}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kIo);
  EXPECT_EQ(r.error().message, "ndjson store: " + (dir / "Patient.ndjson") + " is shorter (" +
                                   std::to_string(Line("a").size() + 1) +
                                   " bytes) than its committed mark (1000 bytes)");
}

TEST(NdjsonStore, CompactKeepsTheLastLinePerPayerAndId) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Patient", "bison", "m-1", 1), {Line("a", R"(,"v":1)"), Line("b")});
  WriteFile(*store, Ctx("Patient", "elk", "m-5", 2), {Line("a", R"(,"v":9)")});
  WriteFile(*store, Ctx("Patient", "bison", "m-1", 3), {Line("a", R"(,"v":2)")});
  auto marks = store->Compact();
  ASSERT_TRUE(marks.ok()) << marks.error().message;
  const std::string expected =
      Line("b") + "\n" + Line("a", R"(,"v":9)") + "\n" + Line("a", R"(,"v":2)") + "\n";
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), expected);
  ASSERT_EQ(marks->count("Patient"), 1u);
  EXPECT_EQ(marks->at("Patient").ndjson_end, static_cast<int64_t>(expected.size()));
  EXPECT_EQ(marks->at("Patient").index_end,
            static_cast<int64_t>(ReadAll(dir / "Patient.index").size()));
  EXPECT_EQ(ScanAll(*store, "Patient"),
            (std::vector<std::string>{"bison/m-1/b", "elk/m-5/a", "bison/m-1/a"}));
  // the new marks are what Recover() gets next time: nothing is cut
  ASSERT_TRUE(store->Recover(*marks).ok());
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), expected);
}

TEST(NdjsonStore, ScanGivesEachLineTheMemberOfItsFile) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Claim", "bison", "m 1", 1), {Line("c1"), Line("c2")});
  WriteFile(*store, Ctx("Claim", "bison", "", 2), {});
  WriteFile(*store, Ctx("Claim", "elk", "-", 3), {Line("c3")});
  EXPECT_EQ(ScanAll(*store, "Claim"),
            (std::vector<std::string>{"bison/m 1/c1", "bison/m 1/c2", "elk/-/c3"}));
  EXPECT_TRUE(ScanAll(*store, "Patient").empty());
}

TEST(NdjsonStore, CountByTypeCountsLines) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Claim"), {Line("c1"), Line("c1")});
  WriteFile(*store, Ctx("Patient"), {Line("p")});
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Claim", 2}, {"Patient", 1}}));
}

TEST(NdjsonStore, CountByTypeReadsTheIndexNotTheData) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    WriteFile(*store, Ctx("Claim"), {Line("c1"), Line("c2"), Line("c3")});
  }
  // Same length, no newline left: only the index's count can say 3.
  std::string body = ReadAll(dir / "Claim.ndjson");
  std::replace(body.begin(), body.end(), '\n', ' ');
  testing::WriteAll(dir / "Claim.ndjson", body);
  auto store = OpenStore(dir.path());
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Claim", 3}}));
}

TEST(NdjsonStore, CountByTypeReadsRangesOfAnIndexWithoutCounts) {
  TempDir dir;
  const std::string body = Line("a") + "\n" + Line("b") + "\n" + Line("c") + "\n";
  const std::string first = std::to_string(Line("a").size() + 1);
  testing::WriteAll(dir / "Patient.ndjson", body);
  testing::WriteAll(dir / "Patient.index",  // an index written before counts were recorded
                    "0 " + first + " bison m-1 - 1 0\n" + first + " " +
                        std::to_string(body.size()) + " bison m-2 - 2 0\n");
  auto store = OpenStore(dir.path());
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 3}}));
}

TEST(NdjsonStore, CompactRecordsTheLinesItKept) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Patient", "bison", "m-1", 1), {Line("a"), Line("b")});
  WriteFile(*store, Ctx("Patient", "bison", "m-1", 2), {Line("a")});
  ASSERT_TRUE(store->Compact().ok());
  const std::string b = std::to_string(Line("b").size() + 1);
  const std::string all = std::to_string(2 * (Line("a").size() + 1));
  EXPECT_EQ(ReadAll(dir / "Patient.index"),
            "0 " + b + " bison m-1 2024-01-02T03:04:05Z 1 0 1\n" + b + " " + all +
                " bison m-1 2024-01-02T03:04:05Z 2 0 1\n");
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 2}}));
}

TEST(NdjsonStore, LinesLargerThanTheBufferKeepTheirOrder) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  const std::string big = Line("big", ",\"pad\":\"" + std::string(3 << 20, 'y') + "\"");
  WriteFile(*store, Ctx("Patient"), {Line("a"), big, Line("c")});
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("a") + "\n" + big + "\n" + Line("c") + "\n");
}

TEST(NdjsonStore, AFullDiskIsDiskFull) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  // Writing to /dev/full fails with ENOSPC: point the type's file there.
  ASSERT_EQ(::symlink("/dev/full", (dir / "Patient.ndjson").c_str()), 0);
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE((*w)->Put("a", Line("a")).ok());  // buffered
  auto mark = (*w)->Commit();
  ASSERT_FALSE(mark.ok());
  EXPECT_EQ(mark.error().kind, ErrorKind::kDiskFull);
  EXPECT_EQ(mark.error().message,
            "ndjson store: write " + (dir / "Patient.ndjson") + ": No space left on device");
  EXPECT_EQ(ReadAll(dir / "Patient.index"), "");
}

// The writeback thread's failure is noticed when a later buffer is handed over (the writer
// waits only for the spare buffer's own write there), not only at the commit.
TEST(NdjsonStore, AFullDiskStopsTheLinesWithinAFewBuffers) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_EQ(::symlink("/dev/full", (dir / "Patient.ndjson").c_str()), 0);
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok()) << w.error().message;
  const std::string line = Line("a", R"(,"pad":")" + std::string(1000, 'p') + "\"");
  int accepted = 0;
  Result<void> put = Ok();
  while (accepted < 100000 && (put = (*w)->Put("a", line))) ++accepted;
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().kind, ErrorKind::kDiskFull);
  // The first buffer's write fails; the third buffer's hand-over waits for it and sees that.
  EXPECT_LE(static_cast<size_t>(accepted) * (line.size() + 1), 3U * 512 * 1024);
  EXPECT_FALSE((*w)->Commit().ok());
  EXPECT_EQ(ReadAll(dir / "Patient.index"), "");
}

TEST(NdjsonStore, AFullDiskIsDiskFullForATemporaryFileToo) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto direct = store->Begin(Ctx("Patient", "bison", "m-1", 1));  // holds the tail
  ASSERT_TRUE(direct.ok());
  // Writing to /dev/full fails with ENOSPC: point the second writer's temporary file there.
  ASSERT_EQ(::symlink("/dev/full", (dir / ".tmp/7-0.part").c_str()), 0);
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE((*w)->Put("a", Line("a")).ok());  // buffered
  auto mark = (*w)->Commit();
  ASSERT_FALSE(mark.ok());
  EXPECT_EQ(mark.error().kind, ErrorKind::kDiskFull);
  EXPECT_EQ(mark.error().message,
            "ndjson store: write " + (dir / ".tmp/7-0.part") + ": No space left on device");
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), "");
}

TEST(NdjsonStore, FilesAre0600AndDirectories0700) {
  TempDir dir;
  auto store = OpenStore(dir / "store");
  auto direct = store->Begin(Ctx("Patient", "bison", "m-1", 1));
  auto w = store->Begin(Ctx("Patient"));  // a second writer of the type: temporary file
  ASSERT_TRUE(direct.ok() && w.ok());
  ASSERT_TRUE((*w)->Put("a", Line("a")).ok());
  EXPECT_EQ(ModeOf(dir / "store/.tmp/7-0.part"), 0600u);
  (*direct)->Abort();
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ(ModeOf(dir / "store"), 0700u);
  EXPECT_EQ(ModeOf(dir / "store/.tmp"), 0700u);
  EXPECT_EQ(ModeOf(dir / "store/Patient.ndjson"), 0600u);
  EXPECT_EQ(ModeOf(dir / "store/Patient.index"), 0600u);
}

TEST(NdjsonStore, RejectsAnInvalidTypeWithoutTouchingTheDisk) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto w = store->Begin(Ctx("../etc"));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(w.error().message,
            "ndjson store: invalid resource type \"../etc\": must match [A-Z][A-Za-z]{1,63}");
}

}  // namespace
}  // namespace p2p::store
