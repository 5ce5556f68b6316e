// PostgresStore::Open and ::Check, and `p2p-ingestd check-config` with store.kind: postgres:
// an unreachable server, a refused login, a role without the schema privilege, a schema that
// cannot be created, a schema migrated by a newer binary, and daemons migrating one schema at
// once. Error texts never carry the password.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "postgres/postgres_store_fixture.h"
#include "support/child_process.h"
#include "support/sandbox_process.h"
#include "support/temp_dir.h"

namespace p2p::store {
namespace {

using testing::ErrorText;

// A loopback port nothing listens on (it was free a moment ago).
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

TEST_F(PgStoreTest, CheckReportsTheServerAndTheSchemaVersion) {
  auto checked = PostgresStore::Check(Options());
  ASSERT_TRUE(checked) << ErrorText(checked);
  const std::string version = Sql("SHOW server_version");
  EXPECT_EQ(*checked, "PostgreSQL " + version + ", schema p2p at store migration 1");
  EXPECT_EQ(Sql("SELECT version, name FROM p2p.p2p_store_migrations"), "1|001_type_tables.sql");
}

TEST_F(PgStoreTest, UnreachableServerIsUnavailableForCheckButNotForOpen) {
  StoreOptions o = Options();
  o.dsn = "host=127.0.0.1 port=" + std::to_string(ClosedPort()) + " dbname=p2p user=p2p_ingest";
  auto checked = PostgresStore::Check(o);
  EXPECT_EQ(ErrorText(checked).substr(0, 33), "unavailable: server unreachable: ")
      << ErrorText(checked);
  EXPECT_NE(checked.error().message.find("Connection refused"), std::string::npos);
  auto opened = PostgresStore::Open(o);  // writes retry until the server is there
  EXPECT_TRUE(opened) << ErrorText(opened);
}

TEST_F(PgStoreTest, WrongPasswordIsALoginRefusedWithoutThePassword) {
  StoreOptions o = Options();
  o.password = "wrong-" + pg_->password();
  const std::string expected =
      "auth: login refused: connection to server at \"127.0.0.1\", port " +
      std::to_string(pg_->port()) +
      " failed: FATAL:  password authentication failed for user \"p2p_ingest\"";
  EXPECT_EQ(ErrorText(PostgresStore::Check(o)), expected);
  EXPECT_EQ(ErrorText(PostgresStore::Open(o)), expected);
  o.password.clear();
  o.dsn += " passfile=/nonexistent";
  EXPECT_EQ(ErrorText(PostgresStore::Check(o)).substr(0, 20), "auth: login refused:");
}

TEST_F(PgStoreTest, RoleWithoutTheSchemaPrivilegeIsRefused) {
  ASSERT_EQ(Sql("CREATE ROLE nopriv LOGIN PASSWORD 'nopriv-pw';"
                "GRANT CONNECT ON DATABASE p2p TO nopriv"),
            "");
  StoreOptions o = Options();
  o.dsn = "host=127.0.0.1 port=" + std::to_string(pg_->port()) + " dbname=p2p user=nopriv";
  o.password = "nopriv-pw";
  const std::string expected =
      "invalid: this role lacks CREATE or USAGE on schema p2p (GRANT USAGE, CREATE ON "
      "SCHEMA p2p TO <role>, or make the role its owner)";
  EXPECT_EQ(ErrorText(PostgresStore::Check(o)), expected);
  EXPECT_EQ(ErrorText(PostgresStore::Open(o)), expected);
  // USAGE alone is not enough either.
  ASSERT_EQ(Sql("GRANT USAGE ON SCHEMA p2p TO nopriv"), "");
  EXPECT_EQ(ErrorText(PostgresStore::Check(o)), expected);

  // A schema that does not exist, which the role may not create.
  o = Options();
  o.schema = "elsewhere";
  EXPECT_EQ(ErrorText(PostgresStore::Check(o)),
            "invalid: store.schema elsewhere does not exist and this role may not create "
            "it (CREATE SCHEMA elsewhere AUTHORIZATION <role>, as an administrator): "
            "create schema: permission denied for database p2p (SQLSTATE 42501)");
  EXPECT_EQ(Sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'elsewhere'"), "0");
}

TEST_F(PgStoreTest, SchemaOfANewerBinaryIsRefused) {
  ASSERT_TRUE(PostgresStore::Check(Options()));
  ASSERT_EQ(Sql("INSERT INTO p2p.p2p_store_migrations (version, name) VALUES (99, '099_future')"),
            "");
  const std::string expected =
      "invalid: schema p2p is at store migration 99, newer than this binary's 1: "
      "refusing to write to it";
  EXPECT_EQ(ErrorText(PostgresStore::Check(Options())), expected);
  EXPECT_EQ(ErrorText(PostgresStore::Open(Options())), expected);
}

TEST_F(PgStoreTest, StoresOpeningOneNewSchemaAtOnceBothMigrateIt) {
  ASSERT_EQ(Sql("GRANT CREATE ON DATABASE p2p TO p2p_ingest"), "");
  for (const char* schema : {"p2p", "fresh_a", "fresh_b", "fresh_c"}) {
    StoreOptions o = Options();
    o.schema = schema;
    Result<std::unique_ptr<PostgresStore>> first = MakeError(ErrorKind::kInternal, "not run");
    Result<std::unique_ptr<PostgresStore>> second = MakeError(ErrorKind::kInternal, "not run");
    std::thread a([&] { first = PostgresStore::Open(o); });
    std::thread b([&] { second = PostgresStore::Open(o); });
    a.join();
    b.join();
    ASSERT_TRUE(first) << schema << ": " << ErrorText(first);
    ASSERT_TRUE(second) << schema << ": " << ErrorText(second);
    EXPECT_EQ(Sql(std::string("SELECT string_agg(version::text, ',') FROM ") + schema +
                  ".p2p_store_migrations"),
              "1")
        << schema;
    // Both write the same new type at once: its table is created once, both files land.
    std::string first_write, second_write;
    std::thread c([&] { first_write = Write(**first, FileCtx("Patient", kT1, 1), {"p1"}, "a"); });
    std::thread d([&] { second_write = Write(**second, FileCtx("Patient", kT1, 2), {"p2"}, "b"); });
    c.join();
    d.join();
    EXPECT_EQ(first_write, "ok") << schema;
    EXPECT_EQ(second_write, "ok") << schema;
    EXPECT_EQ(Sql(std::string("SELECT count(*) FROM ") + schema + ".\"Patient\""), "2") << schema;
  }
}

// `p2p-ingestd check-config` with the store on this cluster, the password from
// P2P_TEST_STORE_PASSWORD.
class CheckConfigTest : public PgStoreTest {
 protected:
  void TearDown() override { ::unsetenv("P2P_TEST_STORE_PASSWORD"); }

  testing::CommandResult CheckConfig(const std::string& password) {
    ::setenv("P2P_TEST_STORE_PASSWORD", password.c_str(), 1);
    ::setenv("P2P_TEST_CLIENT_SECRET", "client-secret", 1);
    std::ofstream(config_)
        << "self: {identifier: {system: 'urn:oid:2.16.840.1.113883.6.300', "
        << "value: '12345'}}\n"
        << "state:\n  path: " << dir_.File("state.db") << "\n"
        << "store:\n  kind: postgres\n  dsn: " << pg_->Dsn() << "\n"
        << "  password_env: P2P_TEST_STORE_PASSWORD\n"
        << "source:\n  path: " << dir_.File("inbox") << "\n"
        << "payers:\n  - id: bison\n"
        << "    identifier: {system: 'http://hl7.org/fhir/sid/us-npi', "
        << "value: '9876543210'}\n"
        << "    base_url: https://gateway.example/v1/bison\n"
        << "    auth:\n      token_url: https://auth.example/token\n"
        << "      client_id: c\n      client_secret_env: P2P_TEST_CLIENT_SECRET\n";
    return testing::RunCommand(testing::IngestdExecutable(), {"check-config", "--config", config_},
                               std::chrono::seconds(20));
  }

  testing::TempDir dir_{"p2p-pgcheck-"};
  const std::string config_ = dir_.File("p2p.yaml");
};

TEST_F(CheckConfigTest, ReportsTheServerWhenItWorks) {
  const testing::CommandResult r = CheckConfig(pg_->password());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // no warning, no server notice
  EXPECT_EQ(r.out.rfind(config_ + ": ok\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\nstore server: PostgreSQL " + Sql("SHOW server_version") +
                       ", schema p2p at store migration 1\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find(pg_->password()), std::string::npos);
}

TEST_F(CheckConfigTest, WrongPasswordExits78WithoutThePassword) {
  const std::string wrong = "wrong-" + pg_->password();
  const testing::CommandResult r = CheckConfig(wrong);
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, config_ +
                       ": store: login refused: connection to server at \"127.0.0.1\", port " +
                       std::to_string(pg_->port()) +
                       " failed: FATAL:  password authentication failed for user \"p2p_ingest\"\n");
  EXPECT_EQ(r.err.find(wrong), std::string::npos);
}

TEST_F(CheckConfigTest, StoppedServerExits78) {
  std::string why;
  ASSERT_TRUE(pg_->Stop(&why)) << why;
  const testing::CommandResult r = CheckConfig(pg_->password());
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_EQ(r.err, config_ +
                       ": store: server unreachable: connection to server at \"127.0.0.1\", "
                       "port " +
                       std::to_string(pg_->port()) + " failed: Connection refused\n");
}

}  // namespace
}  // namespace p2p::store
