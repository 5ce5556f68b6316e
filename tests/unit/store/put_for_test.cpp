// FileWriter::PutFor (Group exports): each resource stored under its own member_key, in both
// stores, with the usual commit, publication and recovery rules.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "store/ndjson_store.h"
#include "store/sqlite_store.h"
#include "unit/store/store_test_util.h"

namespace p2p::store {
namespace {

using testing::TempDir;

FileContext Ctx(int file_index = 0) {
  return FileContext{"bison", "group:fam", 7, file_index, "Observation", "2026-01-01T00:00:00Z"};
}

std::string Line(const std::string& id) {
  return R"({"resourceType":"Observation","id":")" + id + R"("})";
}

// id -> member_key of every stored Observation.
std::map<std::string, std::string> Owners(ResourceStore& store) {
  std::map<std::string, std::string> out;
  auto r = store.Scan("Observation", [&](const StoredResource& s) {
    out[std::string(s.id)] = std::string(s.member_key);
  });
  EXPECT_TRUE(r) << r.error().message;
  return out;
}

void WriteRuns(ResourceStore& store, StoreMark* mark = nullptr) {
  auto w = store.Begin(Ctx());
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE((*w)->PutFor("A", "o1", Line("o1")));
  ASSERT_TRUE((*w)->PutFor("A", "o2", Line("o2")));
  ASSERT_TRUE((*w)->PutFor("patient:p9", "o3", Line("o3")));
  ASSERT_TRUE((*w)->PutFor("A", "o4", Line("o4")));
  auto c = (*w)->Commit();
  ASSERT_TRUE(c) << c.error().message;
  std::map<std::string, StoreMark> marks;
  testing::PublishAndRecord(store, 7, marks);
  if (mark != nullptr) *mark = marks["Observation"];
}

const std::map<std::string, std::string> kOwners = {
    {"o1", "A"}, {"o2", "A"}, {"o3", "patient:p9"}, {"o4", "A"}};

TEST(PutFor, SqliteStoresEachRowUnderItsMemberKey) {
  TempDir dir;
  auto store = SqliteStore::Open(dir / "r.db");
  ASSERT_TRUE(store);
  WriteRuns(**store);
  EXPECT_EQ(Owners(**store), kOwners);
  // Seen again for another member: the row moves (upsert), never doubles.
  auto w = (*store)->Begin(Ctx(1));
  ASSERT_TRUE((*w)->PutFor("B", "o3", Line("o3")));
  ASSERT_TRUE((*w)->Commit());
  EXPECT_EQ(Owners(**store).at("o3"), "B");
  EXPECT_EQ((*store)->CountByType()->at("Observation"), 4);
  auto bad = (*store)->Begin(Ctx(2));
  auto empty = (*bad)->PutFor("", "o5", Line("o5"));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "table \"Observation\": empty member_key");
}

TEST(PutFor, NdjsonIndexHasOneRangePerRunOfAMember) {
  TempDir dir;
  auto store = NdjsonStore::Open(dir / "s");
  ASSERT_TRUE(store);
  StoreMark mark;
  WriteRuns(**store, &mark);
  EXPECT_EQ(Owners(**store), kOwners);
  const std::string index = testing::ReadAll(dir / "s/Observation.index");
  EXPECT_EQ(std::count(index.begin(), index.end(), '\n'), 3);  // A, patient:p9, A
  EXPECT_EQ(static_cast<int64_t>(index.size()), mark.index_end);
  EXPECT_EQ((*store)->CountByType()->at("Observation"), 4);

  // Recovery to the committed marks keeps the runs; a publication not recorded goes.
  auto w = (*store)->Begin(Ctx(1));
  ASSERT_TRUE((*w)->PutFor("C", "o9", Line("o9")));
  ASSERT_TRUE((*w)->Commit());
  ASSERT_TRUE((*store)->PublishJob(7));
  auto reopened = NdjsonStore::Open(dir / "s");
  ASSERT_TRUE((*reopened)->Recover({{"Observation", mark}}, {}));
  EXPECT_EQ(Owners(**reopened), kOwners);
}

TEST(PutFor, NdjsonLinesPutBeforeKeepTheFilesOwnKey) {
  TempDir dir;
  auto store = NdjsonStore::Open(dir / "s");
  auto w = (*store)->Begin(Ctx());
  ASSERT_TRUE((*w)->Put("o1", Line("o1")));
  ASSERT_TRUE((*w)->PutFor("A", "o2", Line("o2")));
  ASSERT_TRUE((*w)->Commit());
  std::map<std::string, StoreMark> marks;
  testing::PublishAndRecord(**store, 7, marks);
  EXPECT_EQ(Owners(**store),
            (std::map<std::string, std::string>{{"o1", "group:fam"}, {"o2", "A"}}));
}

}  // namespace
}  // namespace p2p::store
