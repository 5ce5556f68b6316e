// ResourceStore::Delete / PurgeMember in both stores, and the NDJSON store's "never doubles"
// rule for refreshes (resource_store.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "store/ndjson_store.h"
#include "store/sqlite_store.h"
#include "unit/store/store_test_util.h"

namespace p2p::store {
namespace {

using testing::ReadAll;
using testing::TempDir;

FileContext Ctx(std::string member, int64_t job, int file_index, std::string tx,
                std::string type = "Observation", std::string payer = "bison") {
  return FileContext{std::move(payer), std::move(member), job, file_index, std::move(type),
                     std::move(tx)};
}

std::string Line(const std::string& id, int version = 1) {
  return R"({"resourceType":"Observation","id":")" + id + R"(","meta":{"versionId":")" +
         std::to_string(version) + R"("}})";
}

// Writes and commits one file and publishes its job; the marks (NDJSON store) go into `marks`
// like the state DB would.
void Write(ResourceStore& store, const FileContext& ctx, const std::vector<std::string>& ids,
           std::map<std::string, StoreMark>& marks, int version = 1) {
  auto w = store.Begin(ctx);
  ASSERT_TRUE(w.ok()) << w.error().message;
  for (const auto& id : ids) ASSERT_TRUE((*w)->Put(id, Line(id, version)).ok());
  auto mark = (*w)->Commit();
  ASSERT_TRUE(mark.ok()) << mark.error().message;
  testing::PublishAndRecord(store, ctx.job_id, marks);
}

void Record(const DeleteOutcome& d, std::map<std::string, StoreMark>& marks) {
  for (const StoreMark& m : d.marks) {
    marks[m.type].type = m.type;
    marks[m.type].deleted_end = m.deleted_end;
  }
}

std::vector<std::string> Ids(ResourceStore& store, const std::string& type = "Observation") {
  std::vector<std::string> out;
  auto r = store.Scan(type, [&](const StoredResource& s) {
    out.push_back(std::string(s.payer) + "/" + std::string(s.member_key) + "/" + std::string(s.id));
  });
  EXPECT_TRUE(r.ok()) << r.error().message;
  std::sort(out.begin(), out.end());
  return out;
}

int64_t Count(ResourceStore& store, const std::string& type = "Observation") {
  auto c = store.CountByType();
  EXPECT_TRUE(c.ok()) << c.error().message;
  if (!c.ok()) return -1;
  auto it = c->find(type);
  return it == c->end() ? 0 : it->second;
}

class BothStores : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    if (GetParam() == "sqlite") {
      auto s = SqliteStore::Open(dir_ / "store.db");
      ASSERT_TRUE(s.ok()) << s.error().message;
      store_ = std::move(*s);
    } else {
      auto s = NdjsonStore::Open(dir_ / "store");
      ASSERT_TRUE(s.ok()) << s.error().message;
      store_ = std::move(*s);
    }
  }
  TempDir dir_;
  std::unique_ptr<ResourceStore> store_;
  std::map<std::string, StoreMark> marks_;
};

TEST_P(BothStores, DeleteRemovesOnlyThatPayersResources) {
  Write(*store_, Ctx("m-1", 1, 0, "t1"), {"a", "b", "c"}, marks_);
  Write(*store_, Ctx("m-9", 2, 0, "t1", "Observation", "elk"), {"a"}, marks_);
  auto d = store_->Delete("bison", 0, {{"Observation", "a"}, {"Observation", "c"},
                                    {"Observation", "not-stored"}, {"Condition", "x"}});
  ASSERT_TRUE(d.ok()) << d.error().message;
  Record(*d, marks_);
  EXPECT_EQ(Ids(*store_), (std::vector<std::string>{"bison/m-1/b", "elk/m-9/a"}));
  EXPECT_EQ(Count(*store_), 2);
}

TEST_P(BothStores, AResourceStoredAgainAfterItsDeletionIsBack) {
  Write(*store_, Ctx("m-1", 1, 0, "t1"), {"a", "b"}, marks_);
  auto d = store_->Delete("bison", 0, {{"Observation", "a"}});
  ASSERT_TRUE(d.ok()) << d.error().message;
  Record(*d, marks_);
  Write(*store_, Ctx("m-1", 1, 0, "t2"), {"a"}, marks_, 2);
  EXPECT_EQ(Ids(*store_), (std::vector<std::string>{"bison/m-1/a", "bison/m-1/b"}));
  EXPECT_EQ(Count(*store_), 2);
}

TEST_P(BothStores, ARefreshThatSendsAnIdAgainNeverDoublesIt) {
  Write(*store_, Ctx("m-1", 1, 0, "t1"), {"a", "b"}, marks_);
  Write(*store_, Ctx("m-1", 1, 0, "t2"), {"b", "c"}, marks_, 2);
  EXPECT_EQ(Ids(*store_), (std::vector<std::string>{"bison/m-1/a", "bison/m-1/b", "bison/m-1/c"}));
  EXPECT_EQ(Count(*store_), 3);
}

TEST_P(BothStores, PurgeMemberRemovesEveryTypeOfThatMemberAndCountsThem) {
  Write(*store_, Ctx("m-1", 1, 0, "t1"), {"a", "b"}, marks_);
  Write(*store_, Ctx("m-1", 1, 1, "t1", "Condition"), {"c"}, marks_);
  Write(*store_, Ctx("m-2", 2, 0, "t1"), {"d"}, marks_);
  auto p = store_->PurgeMember("bison", "m-1");
  ASSERT_TRUE(p.ok()) << p.error().message;
  Record(*p, marks_);
  EXPECT_EQ(p->removed, 3);
  EXPECT_EQ(Ids(*store_), (std::vector<std::string>{"bison/m-2/d"}));
  EXPECT_EQ(Ids(*store_, "Condition"), std::vector<std::string>{});
  EXPECT_EQ(Count(*store_, "Condition"), 0);
  auto again = store_->PurgeMember("bison", "m-1");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->removed, 0);
}

TEST_P(BothStores, DeleteRefusesRefsThatAreNotFhirIdsAndDeletesNothing) {
  Write(*store_, Ctx("m-1", 1, 0, "t1"), {"a"}, marks_);
  auto d = store_->Delete("bison", 0, {{"Observation", "a"}, {"Observation", "has space"}});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(Ids(*store_), (std::vector<std::string>{"bison/m-1/a"}));
}

TEST_P(BothStores, DeletionsSurviveARestartWithTheirMarks) {
  Write(*store_, Ctx("m-1", 1, 0, "t1"), {"a", "b"}, marks_);
  auto d = store_->Delete("bison", 0, {{"Observation", "a"}});
  ASSERT_TRUE(d.ok()) << d.error().message;
  Record(*d, marks_);
  Reopen();
  ASSERT_TRUE(store_->Recover(marks_, {}).ok());
  EXPECT_EQ(Ids(*store_), (std::vector<std::string>{"bison/m-1/b"}));
}

// A job's deleted[] files are applied after its output files: the deletions cover the same
// export's lines, which are published only when the job completes.
TEST_P(BothStores, AJobsDeletionsCoverItsOwnLines) {
  Write(*store_, Ctx("m-1", 1, 0, "t1"), {"a", "b"}, marks_);
  auto w = store_->Begin(Ctx("m-1", 1, 0, "t2"));
  ASSERT_TRUE(w.ok()) << w.error().message;
  for (const char* id : {"b", "c", "d"}) ASSERT_TRUE((*w)->Put(id, Line(id, 2)).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  auto d = store_->Delete("bison", 1, {{"Observation", "a"}, {"Observation", "c"}});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->removed, 2);
  Record(*d, marks_);
  testing::PublishAndRecord(*store_, 1, marks_);
  EXPECT_EQ(Ids(*store_), (std::vector<std::string>{"bison/m-1/b", "bison/m-1/d"}));
  EXPECT_EQ(Count(*store_), 2);
}

INSTANTIATE_TEST_SUITE_P(Stores, BothStores, ::testing::Values("sqlite", "ndjson"),
                         [](const auto& info) { return info.param; });

TEST(NdjsonTombstones, ADeletionWhoseMarkWasNotRecordedIsUndoneByRecover) {
  TempDir dir;
  std::map<std::string, StoreMark> marks;
  auto s = NdjsonStore::Open(dir / "store");
  ASSERT_TRUE(s.ok());
  Write(**s, Ctx("m-1", 1, 0, "t1"), {"a", "b"}, marks);
  ASSERT_TRUE((*s)->Delete("bison", 0, {{"Observation", "a"}}).ok());  // crash: mark not recorded
  s->reset();
  auto again = NdjsonStore::Open(dir / "store");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Recover(marks, {}).ok());
  EXPECT_EQ(ReadAll(dir / "store/Observation.deleted"), "");
  EXPECT_EQ(Ids(**again), (std::vector<std::string>{"bison/m-1/a", "bison/m-1/b"}));
}

TEST(NdjsonTombstones, TheLogHoldsOneLinePerDeletionWithTheCommittedEnd) {
  TempDir dir;
  std::map<std::string, StoreMark> marks;
  auto s = NdjsonStore::Open(dir / "store");
  ASSERT_TRUE(s.ok());
  Write(**s, Ctx("m-1", 1, 0, "t1"), {"a"}, marks);
  const int64_t end = marks["Observation"].ndjson_end;
  auto d = (*s)->Delete("bison", 0, {{"Observation", "a"}});
  ASSERT_TRUE(d.ok());
  auto p = (*s)->PurgeMember("bison", "m-1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->removed, 0);  // already deleted
  const std::string log = ReadAll(dir / "store/Observation.deleted");
  EXPECT_EQ(log, "R " + std::to_string(end) + " bison a\n");
  ASSERT_EQ(d->marks.size(), 1u);
  EXPECT_EQ(d->marks[0].deleted_end, static_cast<int64_t>(log.size()));
}

TEST(NdjsonTombstones, CompactAppliesTombstonesAndEmptiesTheLog) {
  TempDir dir;
  std::map<std::string, StoreMark> marks;
  auto s = NdjsonStore::Open(dir / "store");
  ASSERT_TRUE(s.ok());
  Write(**s, Ctx("m-1", 1, 0, "t1"), {"a", "b", "c"}, marks);
  Write(**s, Ctx("m-1", 1, 0, "t2"), {"c"}, marks, 2);
  auto d = (*s)->Delete("bison", 0, {{"Observation", "b"}});
  ASSERT_TRUE(d.ok());
  Record(*d, marks);
  auto c = (*s)->Compact([&](const StoreMark& m) -> Result<void> {
    marks[m.type] = m;
    return Ok();
  });
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(marks.at("Observation").deleted_end, 0);
  EXPECT_EQ(ReadAll(dir / "store/Observation.deleted"), "");
  EXPECT_EQ(ReadAll(dir / "store/Observation.ndjson"), Line("a") + "\n" + Line("c", 2) + "\n");
  EXPECT_EQ(Count(**s), 2);
}

}  // namespace
}  // namespace p2p::store
