#include "postgres/state_backend.h"

namespace p2p::state {

std::unique_ptr<test::PgCluster> StateBackendTest::cluster_;
int StateBackendTest::schemas_ = 0;

std::string BackendName(const ::testing::TestParamInfo<Dialect>& info) {
  return info.param == Dialect::kPostgres ? "postgres" : "sqlite";
}

void StateBackendTest::SetUp() {
  if (postgres()) {
    if (!cluster_) {
      std::string why;
      cluster_ = test::PgCluster::Start(&why);
      ASSERT_NE(cluster_, nullptr) << why;
    }
    schema_ = "s" + std::to_string(++schemas_);
    std::string err;
    ASSERT_TRUE(cluster_->Psql("CREATE SCHEMA " + schema_ + " AUTHORIZATION " + cluster_->user(),
                               &err))
        << err;
  }
  db_ = Open();
}

std::unique_ptr<StateDb> StateBackendTest::Open() {
  Result<std::unique_ptr<StateDb>> db =
      postgres() ? StateDb::OpenPostgres({cluster_->Dsn() + " connect_timeout=5",
                                          cluster_->password(), schema_})
                 : StateDb::Open(dir_.File("state.db"));
  EXPECT_TRUE(db) << db.error().message;
  return db ? std::move(db).value() : nullptr;
}

InstanceInfo StateBackendTest::Instance(const std::string& name, int64_t lease_ms) {
  InstanceInfo me;
  me.token = name + "/1/0";
  me.name = name;
  me.host = "test-host";
  me.pid = 1;
  me.version = "test";
  me.lease_ms = lease_ms;
  return me;
}

NewMember StateBackendTest::Member(const std::string& key, int64_t deadline,
                                   const std::string& payer) {
  NewMember m;
  m.member_key = key;
  m.payer = payer;
  m.row_json = "{}";
  m.deadline = deadline;
  m.consent_end_days = 30000;
  m.source_line = 2;
  return m;
}

Result<void> StateBackendTest::Move(StateDb& db, int64_t id, JobState to, int64_t now_ms) {
  auto job = db.LoadJob(id);
  if (!job) return std::move(job).error();
  const JobState previous = job->state;
  job->state = to;
  return db.SaveJob(*job, previous, now_ms);
}

int64_t StateBackendTest::Scalar(const std::string& sql) {
  auto st = Stmt::Prepare(db_->handle(), sql);
  EXPECT_TRUE(st) << st.error().message;
  if (!st) return -1;
  auto row = st->Step("scalar");
  EXPECT_TRUE(row) << sql << ": " << row.error().message;
  return row && *row ? st->Int(0) : 0;
}

}  // namespace p2p::state
