// PgStoreTest: the fixture of the PostgresStore tests. Each test starts its own throwaway
// cluster (support/pg_cluster.h) and opens stores on it as the application role, with the
// password as StoreOptions::password (what store.password_* resolve to).
//
// Helpers write whole files through the store's FileWriter and read the tables back with the
// superuser's psql (rows as "a|b|c" lines, ordered), so that what a test checks is what an
// analyst querying the schema would see.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres_store.h"
#include "support/error_text.h"
#include "support/pg_cluster.h"

namespace p2p::store {

constexpr char kT1[] = "2025-01-01T00:00:00Z";  // an export's transactionTime

// One resource line: {"resourceType":"<type>","id":"<id>","v":"<v>"}.
inline std::string Resource(const std::string& type, const std::string& id, const std::string& v) {
  return R"({"resourceType":")" + type + R"(","id":")" + id + R"(","v":")" + v + R"("})";
}

inline FileContext FileCtx(const std::string& type, const std::string& tx_time, int64_t job_id,
                           const std::string& member_key = "m-1",
                           const std::string& payer = "bison") {
  FileContext ctx;
  ctx.payer = payer;
  ctx.member_key = member_key;
  ctx.job_id = job_id;
  ctx.type = type;
  ctx.transaction_time = tx_time;
  return ctx;
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    pg_ = test::PgCluster::Start(&why);
    ASSERT_NE(pg_, nullptr) << why;
  }

  StoreOptions Options() const {
    StoreOptions o;
    o.kind = StoreKind::kPostgres;
    o.dsn = pg_->Dsn();
    o.password = pg_->password();
    return o;
  }

  std::unique_ptr<PostgresStore> Open(const PostgresStore::Tuning& tuning = {}) {
    auto s = PostgresStore::Open(Options(), tuning);
    EXPECT_TRUE(s) << testing::ErrorText(s);
    return s ? std::move(*s) : nullptr;
  }

  // Writes one file of `ids` (each line Resource(type, id, v)) and commits it: "ok" or the
  // error (testing::ErrorText).
  static std::string Write(ResourceStore& store, const FileContext& ctx,
                           const std::vector<std::string>& ids, const std::string& v) {
    auto w = store.Begin(ctx);
    if (!w) return testing::ErrorText(w);
    for (const std::string& id : ids) {
      if (auto p = (*w)->Put(id, Resource(ctx.type, id, v)); !p) return testing::ErrorText(p);
    }
    return testing::ErrorText((*w)->Commit());
  }

  // The superuser's answer to `sql` ("a|b" per row, rows on lines), or "psql: <error>".
  std::string Sql(const std::string& sql) const {
    std::string err;
    std::optional<std::string> out = pg_->Psql(sql, &err);
    return out ? *out : "psql: " + err;
  }

  // The rows of p2p."<type>" as "payer|id|member_key|tx_time (UTC)|job_id|resource->>'v'".
  std::string Rows(const std::string& type) const {
    return Sql(
        "SELECT payer, id, member_key, tx_time AT TIME ZONE 'UTC', job_id, resource->>'v'"
        " FROM p2p.\"" +
        type + "\" ORDER BY payer, id");
  }

  std::unique_ptr<test::PgCluster> pg_;
};

}  // namespace p2p::store
