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
      "0 " + std::to_string(expected.size()) + " bison m-1 2024-01-02T03:04:05Z 7 0\n";
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
  ASSERT_TRUE((*w)->Put("a", Line("a")).ok());
  EXPECT_TRUE(Exists(dir / ".tmp/7-0.part"));
  (*w)->Abort();
  EXPECT_FALSE(Exists(dir / ".tmp/7-0.part"));
  EXPECT_FALSE(Exists(dir / "Patient.ndjson"));
  auto counts = store->CountByType();
  ASSERT_TRUE(counts.ok());
  EXPECT_TRUE(counts->empty());
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

TEST(NdjsonStore, RecoverRemovesUncommittedTemporaryFiles) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto w = store->Begin(Ctx("Patient", "bison", "m-1", 3, 2));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put("a", std::string(2 << 20, 'x')).ok());  // larger than the buffer
  EXPECT_TRUE(Exists(dir / ".tmp/3-2.part"));
  ASSERT_TRUE(store->Recover({}).ok());
  EXPECT_FALSE(Exists(dir / ".tmp/3-2.part"));
  EXPECT_FALSE(Exists(dir / "Patient.ndjson"));
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
  // Writing to /dev/full fails with ENOSPC: point the writer's temporary file there.
  ASSERT_EQ(::symlink("/dev/full", (dir / ".tmp/7-0.part").c_str()), 0);
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE((*w)->Put("a", Line("a")).ok());  // buffered
  auto mark = (*w)->Commit();
  ASSERT_FALSE(mark.ok());
  EXPECT_EQ(mark.error().kind, ErrorKind::kDiskFull);
  EXPECT_EQ(mark.error().message,
            "ndjson store: write " + (dir / ".tmp/7-0.part") + ": No space left on device");
  EXPECT_FALSE(Exists(dir / "Patient.ndjson"));
}

TEST(NdjsonStore, FilesAre0600AndDirectories0700) {
  TempDir dir;
  auto store = OpenStore(dir / "store");
  auto w = store->Begin(Ctx("Patient"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put("a", Line("a")).ok());
  EXPECT_EQ(ModeOf(dir / "store/.tmp/7-0.part"), 0600u);
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
