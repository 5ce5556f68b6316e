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
using testing::PublishAndRecord;
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

// Writes and commits one file: staged for its job, not yet published.
void Stage(ResourceStore& store, const FileContext& ctx, const std::vector<std::string>& lines) {
  auto w = store.Begin(ctx);
  ASSERT_TRUE(w.ok()) << w.error().message;
  for (const auto& line : lines) {
    auto put = (*w)->Put("", line);
    ASSERT_TRUE(put.ok()) << put.error().message;
  }
  auto mark = (*w)->Commit();
  ASSERT_TRUE(mark.ok()) << mark.error().message;
  EXPECT_EQ(mark->ndjson_end, -1);  // nothing to record for a staged file
}

// Stages one file and publishes its job (as the job's completion does); the type's mark.
StoreMark WriteFile(ResourceStore& store, const FileContext& ctx,
                    const std::vector<std::string>& lines) {
  Stage(store, ctx, lines);
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(store, ctx.job_id, marks);
  return marks[ctx.type];
}

std::string Staged(const TempDir& dir, int64_t job, int file_index) {
  return dir / (".staging/" + std::to_string(job) + "/" + std::to_string(file_index) + ".ndjson");
}

Result<void> NoRecord(const StoreMark&) { return Ok(); }

std::vector<std::string> ScanAll(ResourceStore& store, const std::string& type) {
  std::vector<std::string> out;
  auto r = store.Scan(type, [&](const StoredResource& s) {
    out.push_back(std::string(s.payer) + "/" + std::string(s.member_key) + "/" + std::string(s.id));
  });
  EXPECT_TRUE(r.ok()) << r.error().message;
  return out;
}

TEST(NdjsonStore, TheFirstWriterOfATypeWritesInPlaceAndThePublicationIndexesIt) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Stage(*store, Ctx("Patient"), {Line("a"), Line("b")});
  const std::string expected = Line("a") + "\n" + Line("b") + "\n";
  // Committed in place past the published end (0): not indexed, scanned or counted yet.
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), expected);
  EXPECT_EQ(ReadAll(dir / "Patient.index"), "");
  const std::string index =
      "0 " + std::to_string(expected.size()) + " bison m-1 2024-01-02T03:04:05Z 7 0 2\n";
  EXPECT_EQ(ReadAll(dir / ".staging/7/inplace-Patient.index"), index);
  EXPECT_FALSE(Exists(Staged(dir, 7, 0)));
  EXPECT_TRUE(ScanAll(*store, "Patient").empty());
  auto marks = store->PublishJob(7);
  ASSERT_TRUE(marks.ok()) << marks.error().message;
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), expected);
  EXPECT_EQ(ReadAll(dir / "Patient.index"), index);
  ASSERT_EQ(marks->size(), 1u);
  EXPECT_EQ((*marks)[0].type, "Patient");
  EXPECT_EQ((*marks)[0].ndjson_end, static_cast<int64_t>(expected.size()));
  EXPECT_EQ((*marks)[0].index_end, static_cast<int64_t>(index.size()));
  EXPECT_EQ((*marks)[0].deleted_end, -1);
  ASSERT_TRUE(store->EndJob(7, JobEnd::kRecorded).ok());
  EXPECT_FALSE(Exists(dir / ".staging/7"));
  EXPECT_EQ(ScanAll(*store, "Patient"), (std::vector<std::string>{"bison/m-1/a", "bison/m-1/b"}));
}

TEST(NdjsonStore, WhileAJobWritesATypeInPlaceOtherFilesOfTheTypeAreStaged) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto first = store->Begin(Ctx("Patient", "bison", "m-1", 7, 0));
  ASSERT_TRUE(first.ok());
  Stage(*store, Ctx("Patient", "bison", "m-1", 7, 1), {Line("b")});  // same job, tail busy
  Stage(*store, Ctx("Patient", "bison", "m-2", 8, 0), {Line("x")});  // another job
  EXPECT_TRUE(Exists(Staged(dir, 7, 1)));
  EXPECT_TRUE(Exists(Staged(dir, 8, 0)));
  const std::string staged = ReadAll(Staged(dir, 7, 1));
  EXPECT_EQ(staged.substr(0, Line("b").size() + 1), Line("b") + "\n");
  EXPECT_NE(staged.find("#staged Patient "), std::string::npos);
  ASSERT_TRUE((*first)->Put("a", Line("a")).ok());
  ASSERT_TRUE((*first)->Commit().ok());
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 7, marks);  // in place first, then its staged files
  PublishAndRecord(*store, 8, marks);
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"),
            Line("a") + "\n" + Line("b") + "\n" + Line("x") + "\n");
  EXPECT_EQ(ScanAll(*store, "Patient"),
            (std::vector<std::string>{"bison/m-1/a", "bison/m-1/b", "bison/m-2/x"}));
}

TEST(NdjsonStore, AJobIsPublishedAsOneBlockPerTypeInFileOrder) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  // Two jobs download at once, their files committed in any order.
  Stage(*store, Ctx("Patient", "bison", "m-2", 2, 3), {Line("p2")});
  Stage(*store, Ctx("Claim", "bison", "m-1", 1, 2), {Line("c3")});
  Stage(*store, Ctx("Claim", "bison", "m-2", 2, 1), {Line("x1")});
  Stage(*store, Ctx("Claim", "bison", "m-1", 1, 0), {Line("c1"), Line("c2")});
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 2, marks);
  PublishAndRecord(*store, 1, marks);
  EXPECT_EQ(ReadAll(dir / "Claim.ndjson"),
            Line("x1") + "\n" + Line("c1") + "\n" + Line("c2") + "\n" + Line("c3") + "\n");
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("p2") + "\n");
  EXPECT_EQ(ScanAll(*store, "Claim"), (std::vector<std::string>{"bison/m-2/x1", "bison/m-1/c1",
                                                                "bison/m-1/c2", "bison/m-1/c3"}));
  EXPECT_EQ(marks["Claim"].ndjson_end, static_cast<int64_t>(ReadAll(dir / "Claim.ndjson").size()));
  EXPECT_EQ(marks["Patient"].index_end,
            static_cast<int64_t>(ReadAll(dir / "Patient.index").size()));
  auto nothing = store->PublishJob(3);  // nothing staged
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->empty());
}

// The expired-file re-kick: files of the first export were committed, the export is kicked off
// again and all of its files are downloaded anew. Each resource is in Patient.ndjson once.
TEST(NdjsonStore, AReKickedJobsLinesArePublishedOnce) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Stage(*store, Ctx("Patient", "bison", "m-1", 7, 0), {Line("a"), Line("b")});
  Stage(*store, Ctx("Patient", "bison", "m-1", 7, 1), {Line("c")});
  ASSERT_TRUE(store->EndJob(7, JobEnd::kDrop).ok());  // file 2 answered 410: re-kick
  EXPECT_FALSE(Exists(dir / ".staging/7"));
  Stage(*store, Ctx("Patient", "bison", "m-1", 7, 0), {Line("a"), Line("b"), Line("c")});
  Stage(*store, Ctx("Patient", "bison", "m-1", 7, 1), {Line("d")});
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 7, marks);
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"),
            Line("a") + "\n" + Line("b") + "\n" + Line("c") + "\n" + Line("d") + "\n");
}

TEST(NdjsonStore, APublicationTakenBackLeavesTheFilesAsTheyWereAndTheStaging) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Patient", "bison", "m-0", 1), {Line("z")});
  const std::string before = ReadAll(dir / "Patient.ndjson");
  const std::string index_before = ReadAll(dir / "Patient.index");
  Stage(*store, Ctx("Patient", "bison", "m-1", 2), {Line("a")});  // in place
  ASSERT_TRUE(store->PublishJob(2).ok());
  EXPECT_NE(ReadAll(dir / "Patient.index"), index_before);
  ASSERT_TRUE(store->EndJob(2, JobEnd::kTakeBack).ok());  // the completion was not saved
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), before + Line("a") + "\n");  // still in place
  EXPECT_EQ(ReadAll(dir / "Patient.index"), index_before);
  EXPECT_EQ(ScanAll(*store, "Patient"), (std::vector<std::string>{"bison/m-0/z"}));
  // Published again later: once.
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 2, marks);
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), before + Line("a") + "\n");
  EXPECT_EQ(ScanAll(*store, "Patient"), (std::vector<std::string>{"bison/m-0/z", "bison/m-1/a"}));
  // A publication never ended is cut back by the next one.
  Stage(*store, Ctx("Patient", "bison", "m-3", 3), {Line("b")});  // in place
  Stage(*store, Ctx("Patient", "bison", "m-4", 4), {Line("c")});  // staged
  ASSERT_TRUE(store->PublishJob(3).ok());
  PublishAndRecord(*store, 4, marks);
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), before + Line("a") + "\n" + Line("c") + "\n");
  EXPECT_EQ(ReadAll(Staged(dir, 3, 0)).substr(0, Line("b").size() + 1), Line("b") + "\n");
}

TEST(NdjsonStore, AbortLeavesNothingBehind) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto in_place = store->Begin(Ctx("Patient", "bison", "m-1", 7));
  auto staged = store->Begin(Ctx("Patient", "bison", "m-2", 8));  // the tail is job 7's
  ASSERT_TRUE(in_place.ok() && staged.ok());
  for (auto* w : {&*in_place, &*staged}) {
    ASSERT_TRUE((*w)->Put("a", std::string(2 << 20, 'x')).ok());  // written past the buffer
  }
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson").size(), 2u << 20);  // its "\n" is still buffered
  EXPECT_EQ(ReadAll(Staged(dir, 8, 0)).size(), 2u << 20);
  (*in_place)->Abort();
  (*staged)->Abort();
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), "");
  EXPECT_FALSE(Exists(Staged(dir, 8, 0)));
  for (int64_t job : {7, 8}) {
    auto published = store->PublishJob(job);
    ASSERT_TRUE(published.ok());
    EXPECT_TRUE(published->empty());
    ASSERT_TRUE(store->EndJob(job, JobEnd::kRecorded).ok());
  }
  // The tail is free again: a new job writes in place.
  Stage(*store, Ctx("Patient", "bison", "m-3", 9), {Line("c")});
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("c") + "\n");
}

TEST(NdjsonStore, APublicationEvictsTheJobInPlaceItsWriterGoesOnStaged) {
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
  EXPECT_FALSE(Exists(Staged(dir, 2, 0)));
  EXPECT_EQ(ReadAll(Staged(dir, 3, 0)), big);
  ASSERT_TRUE((*second)->Commit().ok());
  // Job 3 completes first: job 2's bytes move to its staging file, job 3's lines take the place.
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 3, marks);
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), committed + big + "\n");
  EXPECT_EQ(ReadAll(Staged(dir, 2, 0)), big + "\n");
  ASSERT_TRUE((*first)->Put("c", Line("c")).ok());
  ASSERT_TRUE((*first)->Commit().ok());
  PublishAndRecord(*store, 2, marks);
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), committed + big + "\n" + big + "\n" + Line("c") + "\n");
  EXPECT_EQ(ScanAll(*store, "Patient"),
            (std::vector<std::string>{"bison/m-0/z", "bison/m-2/a", "bison/m-1/a", "bison/m-1/c"}));
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 4}}));
}

TEST(NdjsonStore, AnEvictedJobsCommittedInPlaceFilesBecomeStagedFiles) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Stage(*store, Ctx("Patient", "bison", "m-1", 2, 0), {Line("a")});  // in place
  auto w = store->Begin(Ctx("Patient", "group:g", "m-1", 2, 3));     // in place, after it
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->PutFor("m-5", "b", Line("b")).ok());
  ASSERT_TRUE((*w)->PutFor("m-6", "c", Line("c")).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  Stage(*store, Ctx("Patient", "bison", "m-9", 4, 0), {Line("x")});  // staged
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 4, marks);
  EXPECT_FALSE(Exists(dir / ".staging/2/inplace-Patient.index"));
  EXPECT_TRUE(Exists(Staged(dir, 2, 0)) && Exists(Staged(dir, 2, 3)));
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("x") + "\n");
  PublishAndRecord(*store, 2, marks);
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"),
            Line("x") + "\n" + Line("a") + "\n" + Line("b") + "\n" + Line("c") + "\n");
  EXPECT_EQ(ScanAll(*store, "Patient"),
            (std::vector<std::string>{"bison/m-9/x", "bison/m-1/a", "group:g/m-5/b",
                                      "group:g/m-6/c"}));
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
    EXPECT_GT(*token, last);  // written later, by the writeback thread
    last = *token;
    want += blocks[i];
  }
  ASSERT_TRUE((*w)->Put("y", Line("y")).ok());
  want += Line("y") + "\n";
  (*w)->WaitBlock(last);
  auto mark = (*w)->Commit();
  ASSERT_TRUE(mark.ok()) << mark.error().message;
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 7, marks);
  EXPECT_TRUE(ReadAll(dir / "Patient.ndjson") == want);
  EXPECT_EQ(marks["Patient"].ndjson_end, static_cast<int64_t>(want.size()));
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
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 7, marks);
  EXPECT_TRUE(ReadAll(dir / "Patient.ndjson") == want);
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
  (*w)->Abort();  // waits for the block's write, then removes the staging file
  EXPECT_FALSE(Exists(Staged(dir, 7, 0)));
  ASSERT_TRUE(store->PublishJob(7).ok());
  ASSERT_TRUE(store->EndJob(7, JobEnd::kRecorded).ok());
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), committed);
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 1}}));
}

TEST(NdjsonStore, StagedLinesAreNeitherCountedNorScannedUntilPublished) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Patient", "bison", "m-1", 1), {Line("a")});
  Stage(*store, Ctx("Patient", "bison", "m-2", 2), {Line("b")});
  auto w = store->Begin(Ctx("Patient", "bison", "m-2", 2, 1));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put("c", std::string(2 << 20, 'x')).ok());
  EXPECT_EQ(ScanAll(*store, "Patient"), (std::vector<std::string>{"bison/m-1/a"}));
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"Patient", 1}}));
}

TEST(NdjsonStore, RecoverUndoesAPublicationThatWasNotRecorded) {
  TempDir dir;
  StoreMark recorded;
  {
    auto store = OpenStore(dir.path());
    recorded = WriteFile(*store, Ctx("Patient", "bison", "m-1", 1), {Line("a")});
    Stage(*store, Ctx("Patient", "bison", "m-2", 2), {Line("b"), Line("c")});
    ASSERT_TRUE(store->PublishJob(2).ok());
    // crash: the job's completion (and its marks) never reached the state DB
  }
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->Recover({{"Patient", recorded}}, {2}).ok());  // job 2 still downloading
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("a") + "\n");
  EXPECT_EQ(static_cast<int64_t>(ReadAll(dir / "Patient.index").size()), recorded.index_end);
  // the job completes again: its staged lines are published after the recorded end, once
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 2, marks);
  EXPECT_EQ(ScanAll(*store, "Patient"),
            (std::vector<std::string>{"bison/m-1/a", "bison/m-2/b", "bison/m-2/c"}));
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"),
            Line("a") + "\n" + Line("b") + "\n" + Line("c") + "\n");
}

TEST(NdjsonStore, RecoverTruncatesTypesWithoutAMarkToZero) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  StoreMark patient = WriteFile(*store, Ctx("Patient"), {Line("a")});
  WriteFile(*store, Ctx("Claim", "bison", "m-1", 8), {Line("c")});
  ASSERT_TRUE(store->Recover({{"Patient", patient}}, {}).ok());
  EXPECT_EQ(ReadAll(dir / "Claim.ndjson"), "");
  EXPECT_EQ(ReadAll(dir / "Claim.index"), "");
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("a") + "\n");
}

TEST(NdjsonStore, RecoverStagesTheInPlaceFilesOfDownloadingJobsAndDropsTheRest) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    Stage(*store, Ctx("Patient", "bison", "m-1", 3, 0), {Line("a")});  // job 3, in place
    Stage(*store, Ctx("Patient", "bison", "m-2", 4, 0), {Line("b")});  // job 4, staged
    auto w = store->Begin(Ctx("Patient", "bison", "m-1", 3, 1));       // job 3, in place
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Put("x", std::string(2 << 20, 'x')).ok());
    // crash: the writer never ends, the file stays as it is now
    const std::string cut = ReadAll(dir / "Patient.ndjson");
    w->reset();
    testing::WriteAll(dir / "Patient.ndjson", cut);
    std::filesystem::create_directories(dir / ".tmp");  // an older store's temporary file
    testing::WriteAll(dir / ".tmp/3-1.part", "x");
  }
  auto restarted = OpenStore(dir.path());
  ASSERT_TRUE(restarted->Recover({}, {3}).ok());  // job 3 downloading, job 4 completed
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), "");
  EXPECT_EQ(ReadAll(Staged(dir, 3, 0)).substr(0, Line("a").size() + 1), Line("a") + "\n");
  EXPECT_FALSE(Exists(dir / ".staging/3/inplace-Patient.index"));
  EXPECT_FALSE(Exists(Staged(dir, 3, 1)));
  EXPECT_FALSE(Exists(dir / ".staging/4"));
  EXPECT_FALSE(Exists(dir / ".tmp"));
  // The cut file (not done in the state DB) is downloaded again before the job completes.
  Stage(*restarted, Ctx("Patient", "bison", "m-1", 3, 1), {Line("c")});
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*restarted, 3, marks);
  EXPECT_EQ(ScanAll(*restarted, "Patient"),
            (std::vector<std::string>{"bison/m-1/c", "bison/m-1/a"}));
}

TEST(NdjsonStore, AFileDownloadedAgainInPlaceReplacesItsStagedCopy) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    Stage(*store, Ctx("Patient", "bison", "m-1", 3, 0), {Line("a")});  // in place
    // crash before the file's "done" mark: Recover() stages it, the file is downloaded again
  }
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->Recover({}, {3}).ok());
  ASSERT_TRUE(Exists(Staged(dir, 3, 0)));
  Stage(*store, Ctx("Patient", "bison", "m-1", 3, 0), {Line("a")});  // in place again
  EXPECT_FALSE(Exists(Staged(dir, 3, 0)));
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 3, marks);
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("a") + "\n");
}

TEST(NdjsonStore, PublishingRefusesAStagedFileCutShort) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto tail = store->Begin(Ctx("Patient", "bison", "m-6", 6));  // holds the tail
  ASSERT_TRUE(tail.ok());
  Stage(*store, Ctx("Patient"), {Line("a")});
  const std::string staged = ReadAll(Staged(dir, 7, 0));
  testing::WriteAll(Staged(dir, 7, 0), staged.substr(0, staged.size() - 3));
  auto r = store->PublishJob(7);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kIo);
  EXPECT_EQ(r.error().message, "ndjson store: " + Staged(dir, 7, 0) + ": incomplete staged file");
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), "");
}

TEST(NdjsonStore, RecoverRefusesAFileShorterThanItsMark) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Patient"), {Line("a")});
  auto r = store->Recover({{"Patient", StoreMark{"Patient", 1000, 5}}}, {});
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
  std::map<std::string, StoreMark> marks;
  auto done = store->Compact([&](const StoreMark& m) -> Result<void> {
    marks[m.type] = m;
    return Ok();
  });
  ASSERT_TRUE(done.ok()) << done.error().message;
  const std::string expected =
      Line("b") + "\n" + Line("a", R"(,"v":9)") + "\n" + Line("a", R"(,"v":2)") + "\n";
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), expected);
  ASSERT_EQ(marks.count("Patient"), 1u);
  EXPECT_EQ(marks.at("Patient").ndjson_end, static_cast<int64_t>(expected.size()));
  EXPECT_EQ(marks.at("Patient").index_end,
            static_cast<int64_t>(ReadAll(dir / "Patient.index").size()));
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ((*done)[0].lines_before, 4);
  EXPECT_EQ((*done)[0].lines_after, 3);
  EXPECT_EQ(ScanAll(*store, "Patient"),
            (std::vector<std::string>{"bison/m-1/b", "elk/m-5/a", "bison/m-1/a"}));
  // the new marks are what Recover() gets next time: nothing is cut
  ASSERT_TRUE(store->Recover(marks, {}).ok());
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
  Stage(*store, Ctx("Claim"), {Line("c1"), Line("c1")});
  Stage(*store, Ctx("Patient", "bison", "m-1", 7, 1), {Line("p")});
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 7, marks);
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
  ASSERT_TRUE(store->Compact(NoRecord).ok());
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

// Job 7's Patient file, one line, whose writes go to `path` (/dev/full): the commit says so.
void ExpectDiskFullAtCommit(ResourceStore& store, const std::string& path) {
  auto w = store.Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE((*w)->Put("a", Line("a")).ok());  // buffered
  auto mark = (*w)->Commit();
  ASSERT_FALSE(mark.ok());
  EXPECT_EQ(mark.error().kind, ErrorKind::kDiskFull);
  EXPECT_EQ(mark.error().message, "ndjson store: write " + path + ": No space left on device");
}

TEST(NdjsonStore, AFullDiskIsDiskFull) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  // Writing to /dev/full fails with ENOSPC: point the type's file there (an in-place writer).
  ASSERT_EQ(::symlink("/dev/full", (dir / "Patient.ndjson").c_str()), 0);
  ExpectDiskFullAtCommit(*store, dir / "Patient.ndjson");
  EXPECT_FALSE(Exists(dir / ".staging/7/inplace-Patient.index"));
}

TEST(NdjsonStore, AFullDiskIsDiskFullForAStagedFileToo) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto tail = store->Begin(Ctx("Patient", "bison", "m-6", 6));  // holds the tail
  ASSERT_TRUE(tail.ok());
  std::filesystem::create_directories(dir / ".staging/7");
  ASSERT_EQ(::symlink("/dev/full", Staged(dir, 7, 0).c_str()), 0);
  ExpectDiskFullAtCommit(*store, Staged(dir, 7, 0));
  EXPECT_FALSE(Exists(Staged(dir, 7, 0)));
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
}

TEST(NdjsonStore, AFullDiskAtPublicationChangesNothing) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  WriteFile(*store, Ctx("Claim", "bison", "m-1", 1), {Line("c")});
  const std::string claims = ReadAll(dir / "Claim.ndjson");
  // Patient.ndjson is /dev/full: the publication's copy to it fails with ENOSPC.
  ASSERT_EQ(::symlink("/dev/full", (dir / "Patient.ndjson").c_str()), 0);
  auto tail = store->Begin(Ctx("Patient", "bison", "m-6", 6));  // holds Patient's tail...
  ASSERT_TRUE(tail.ok());
  Stage(*store, Ctx("Claim", "bison", "m-2", 2, 0), {Line("d")});    // in place
  Stage(*store, Ctx("Patient", "bison", "m-2", 2, 1), {Line("a")});  // staged
  (*tail)->Abort();  // ...and gives it up
  auto r = store->PublishJob(2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kDiskFull) << r.error().message;
  EXPECT_EQ(ReadAll(dir / "Claim.ndjson"), claims + Line("d") + "\n");  // in place, unpublished
  EXPECT_EQ(ScanAll(*store, "Claim"), (std::vector<std::string>{"bison/m-1/c"}));
  EXPECT_TRUE(Exists(Staged(dir, 2, 1)));
  // Space again (a real file, so a store that opens it anew; the job's Claim line in place is
  // staged by Recover as after a restart): the job publishes.
  ASSERT_EQ(::unlink((dir / "Patient.ndjson").c_str()), 0);
  const auto index_end = static_cast<int64_t>(ReadAll(dir / "Claim.index").size());
  std::map<std::string, StoreMark> marks = {
      {"Claim", StoreMark{"Claim", static_cast<int64_t>(claims.size()), index_end}}};
  store = OpenStore(dir.path());
  ASSERT_TRUE(store->Recover(marks, {2}).ok());
  PublishAndRecord(*store, 2, marks);
  EXPECT_EQ(ReadAll(dir / "Claim.ndjson"), claims + Line("d") + "\n");
  EXPECT_EQ(ReadAll(dir / "Patient.ndjson"), Line("a") + "\n");
}

TEST(NdjsonStore, FilesAre0600AndDirectories0700) {
  TempDir dir;
  auto store = OpenStore(dir / "store");
  auto tail = store->Begin(Ctx("Patient", "bison", "m-6", 6));  // in place
  ASSERT_TRUE(tail.ok());
  ASSERT_TRUE((*tail)->Put("a", Line("a")).ok());
  ASSERT_TRUE((*tail)->Commit().ok());
  auto w = store->Begin(Ctx("Patient", "bison", "m-6", 6, 1));
  auto staged = store->Begin(Ctx("Patient"));  // job 7: staged
  ASSERT_TRUE(w.ok() && staged.ok());
  ASSERT_TRUE((*staged)->Put("a", Line("a")).ok());
  ASSERT_TRUE((*staged)->Commit().ok());
  EXPECT_EQ(ModeOf(dir / "store/.staging"), 0700u);
  EXPECT_EQ(ModeOf(dir / "store/.staging/7"), 0700u);
  EXPECT_EQ(ModeOf(dir / "store/.staging/7/0.ndjson"), 0600u);
  EXPECT_EQ(ModeOf(dir / "store/.staging/6/inplace-Patient.index"), 0600u);
  ASSERT_TRUE(store->LockExclusive().ok());
  (*w)->Abort();
  std::map<std::string, StoreMark> marks;
  PublishAndRecord(*store, 7, marks);
  EXPECT_EQ(ModeOf(dir / "store"), 0700u);
  EXPECT_EQ(ModeOf(dir / "store/Patient.ndjson"), 0600u);
  EXPECT_EQ(ModeOf(dir / "store/Patient.index"), 0600u);
  EXPECT_EQ(ModeOf(dir / "store/.lock"), 0600u);
}

TEST(NdjsonStore, OneProcessAtATimeHoldsTheLock) {
  TempDir dir;
  auto first = OpenStore(dir.path());
  ASSERT_TRUE(first->LockExclusive().ok());
  // Another process (flock is per open file: another open stands for it).
  auto second = OpenStore(dir.path());
  auto busy = second->LockExclusive();
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().kind, ErrorKind::kBusy);
  EXPECT_EQ(busy.error().message, "ndjson store: " + dir.path() +
                                      " is in use by another process (it holds " +
                                      (dir / ".lock") + "; is p2p-ingestd running?)");
  first.reset();
  EXPECT_TRUE(second->LockExclusive().ok());
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
