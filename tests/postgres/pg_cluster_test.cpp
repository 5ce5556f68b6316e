// PgCluster, the throwaway server of the PostgreSQL tests: who may log in and how, what the
// application role may do, that the server is durable (fsync), runs as the postgres user,
// survives a restart with its data, and leaves no process or directory behind.
#include "support/pg_cluster.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace p2p::test {
namespace {

namespace fs = std::filesystem;

// One libpq connection, closed when it goes out of scope.
class Connection {
 public:
  explicit Connection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {}
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn_); }
  // The first column of the first row, or "error: <message>".
  std::string Query(const std::string& sql) {
    PGresult* res = PQexec(conn_, sql.c_str());
    std::string out;
    const ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_TUPLES_OK) {
      out = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "";
    } else if (status != PGRES_COMMAND_OK) {
      out = std::string("error: ") + PQresultErrorMessage(res);
    }
    PQclear(res);
    return out;
  }

 private:
  PGconn* conn_;
};

// The postmaster's pid, from the data directory the server reports.
pid_t PostmasterPid(const PgCluster& pg) {
  const std::optional<std::string> data_dir = pg.Psql("SHOW data_directory");
  if (!data_dir) return 0;
  std::ifstream pid_file(*data_dir + "/postmaster.pid");
  pid_t pid = 0;
  pid_file >> pid;
  return pid;
}

class PgClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    pg_ = PgCluster::Start(&why);
    ASSERT_NE(pg_, nullptr) << why;
  }
  // The application role's TCP connection string with `password`.
  std::string AppLogin(const std::string& password) const {
    return pg_->Dsn() + " password=" + password + " connect_timeout=5";
  }

  std::unique_ptr<PgCluster> pg_;
};

TEST_F(PgClusterTest, AppUserLogsInOverLoopbackTcpWithItsPassword) {
  EXPECT_EQ(pg_->Dsn(),
            "host=127.0.0.1 port=" + std::to_string(pg_->port()) + " dbname=p2p user=p2p_ingest");
  EXPECT_EQ(pg_->host(), "127.0.0.1");
  EXPECT_EQ(pg_->user(), "p2p_ingest");
  EXPECT_EQ(pg_->database(), "p2p");
  EXPECT_EQ(pg_->password().size(), 32u);
  EXPECT_NE(pg_->port(), 5432);

  Connection app(AppLogin(pg_->password()));
  ASSERT_TRUE(app.ok()) << app.error();
  EXPECT_EQ(app.Query("SELECT current_user"), "p2p_ingest");
  EXPECT_EQ(app.Query("SELECT current_database()"), "p2p");
  EXPECT_EQ(app.Query("SELECT host(inet_server_addr())"), "127.0.0.1");
  // Stored as a SCRAM verifier, never in clear or MD5.
  EXPECT_EQ(pg_->Psql("SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'p2p_ingest'"),
            "SCRAM-SHA-256$");
}

TEST_F(PgClusterTest, TcpLoginsWithoutTheRightPasswordAreRefused) {
  Connection wrong(AppLogin("not-" + pg_->password()));
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().find("password authentication failed for user \"p2p_ingest\""),
            std::string::npos)
      << wrong.error();

  // passfile=/nonexistent/pgpass: no ~/.pgpass may supply one.
  Connection none(pg_->Dsn() + " passfile=/nonexistent/pgpass connect_timeout=5");
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no password supplied"), std::string::npos) << none.error();

  // The superuser logs in over the private socket only, never over TCP without a password.
  Connection superuser("host=127.0.0.1 port=" + std::to_string(pg_->port()) +
                       " dbname=p2p user=postgres passfile=/nonexistent/pgpass connect_timeout=5");
  EXPECT_FALSE(superuser.ok());
}

TEST_F(PgClusterTest, AppUserOwnsItsSchemaAndNothingElse) {
  Connection app(AppLogin(pg_->password()));
  ASSERT_TRUE(app.ok()) << app.error();
  EXPECT_EQ(app.Query("CREATE TABLE p2p.eob (id text PRIMARY KEY)"), "");
  EXPECT_EQ(app.Query("CREATE TEMPORARY TABLE staging (line text)"), "");
  EXPECT_EQ(app.Query("CREATE TABLE public.eob (id text)"),
            "error: ERROR:  permission denied for schema public\n"
            "LINE 1: CREATE TABLE public.eob (id text)\n"
            "                     ^\n");
  EXPECT_EQ(app.Query("CREATE SCHEMA other"),
            "error: ERROR:  permission denied for database p2p\n");
  EXPECT_EQ(pg_->Psql("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
                      "FROM pg_roles WHERE rolname = 'p2p_ingest'"),
            "f|f|f|f|f");
  EXPECT_EQ(pg_->Psql("SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'p2p'"),
            "p2p_ingest");
  EXPECT_EQ(pg_->Psql("SELECT datdba::regrole FROM pg_database WHERE datname = 'p2p'"), "postgres");
}

TEST_F(PgClusterTest, ServerIsDurableRunsAsPostgresAndStaysPrivate) {
  EXPECT_EQ(pg_->Psql("SHOW fsync"), "on");
  EXPECT_EQ(pg_->Psql("SHOW synchronous_commit"), "on");
  EXPECT_EQ(pg_->Psql("SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(pg_->Psql("SHOW unix_socket_directories"), pg_->socket_dir());
  EXPECT_TRUE(fs::exists(pg_->socket_dir() + "/.s.PGSQL." + std::to_string(pg_->port())));
  const std::optional<std::string> data_dir = pg_->Psql("SHOW data_directory");
  ASSERT_TRUE(data_dir);
  EXPECT_EQ(data_dir->rfind(pg_->socket_dir() + "/", 0), 0u) << *data_dir;

  const pid_t postmaster = PostmasterPid(*pg_);
  ASSERT_GT(postmaster, 0);
  struct stat st {};
  ASSERT_EQ(stat(("/proc/" + std::to_string(postmaster)).c_str(), &st), 0);
  EXPECT_NE(st.st_uid, 0u) << "the server runs as root";
  uid_t expected = geteuid();
  if (expected == 0) {
    const passwd* pw = getpwnam("postgres");
    ASSERT_NE(pw, nullptr);
    expected = pw->pw_uid;
  }
  EXPECT_EQ(st.st_uid, expected);
}

TEST_F(PgClusterTest, PsqlReturnsRowsAndErrorsAsValues) {
  EXPECT_EQ(pg_->Psql("SELECT 'a', 2;\nSELECT 3;"), "a|2\n3");
  EXPECT_EQ(pg_->Psql("SELECT current_user", nullptr, "postgres"), "postgres");
  std::string err;
  EXPECT_EQ(pg_->Psql("SELECT 1/0;\nSELECT 'not reached';", &err), std::nullopt);
  EXPECT_NE(err.find("ERROR:  division by zero"), std::string::npos) << err;
}

TEST_F(PgClusterTest, RestartKeepsCommittedDataOnTheSamePort) {
  {
    Connection app(AppLogin(pg_->password()));
    ASSERT_TRUE(app.ok()) << app.error();
    ASSERT_EQ(app.Query("CREATE TABLE p2p.kept (n int)"), "");
    ASSERT_EQ(app.Query("INSERT INTO p2p.kept VALUES (42)"), "");
  }
  const int port = pg_->port();
  std::string why;
  ASSERT_TRUE(pg_->Stop(&why)) << why;
  std::string err;
  EXPECT_EQ(pg_->Psql("SELECT 1", &err), std::nullopt);
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;  // no socket
  ASSERT_TRUE(pg_->StartAgain(&why)) << why;
  EXPECT_EQ(pg_->Psql("SELECT n FROM p2p.kept"), "42");
  ASSERT_TRUE(pg_->Restart(&why)) << why;
  EXPECT_EQ(pg_->port(), port);
  Connection app(AppLogin(pg_->password()));
  ASSERT_TRUE(app.ok()) << app.error();
  EXPECT_EQ(app.Query("SELECT sum(n) FROM p2p.kept"), "42");
}

TEST_F(PgClusterTest, DestructorLeavesNoProcessAndNoDirectory) {
  // A client still connected when the test ends: its backend must go too.
  Connection app(AppLogin(pg_->password()));
  ASSERT_TRUE(app.ok()) << app.error();
  const pid_t postmaster = PostmasterPid(*pg_);
  ASSERT_GT(postmaster, 0);
  std::vector<pid_t> processes = ChildProcesses(postmaster);
  ASSERT_GE(processes.size(), 4u);  // checkpointer, background writer, walwriter, the backend…
  processes.push_back(postmaster);
  const std::string dir = pg_->socket_dir();

  pg_.reset();
  for (pid_t pid : processes) EXPECT_FALSE(ProcessAlive(pid)) << "pid " << pid;
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(PgClusterTest, NextStartRemovesAClusterWhoseTestProcessDied) {
  // Make this cluster look abandoned: its owner is a process that has exited.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  std::ofstream(pg_->socket_dir() + "/owner.pid", std::ios::trunc) << dead << "\n";
  const pid_t postmaster = PostmasterPid(*pg_);
  ASSERT_GT(postmaster, 0);

  std::string why;
  std::unique_ptr<PgCluster> next = PgCluster::Start(&why);
  ASSERT_NE(next, nullptr) << why;
  EXPECT_FALSE(ProcessAlive(postmaster));
  EXPECT_FALSE(fs::exists(pg_->socket_dir()));
  EXPECT_EQ(next->Psql("SELECT 1"), "1");
}

TEST(PgCluster, StartFailsWithItsReasonWithoutTheServerPrograms) {
  const char* old = std::getenv("P2P_PG_BIN");
  const std::string saved = old ? old : "";
  setenv("P2P_PG_BIN", "/nonexistent/bin", 1);
  std::string why;
  std::unique_ptr<PgCluster> pg = PgCluster::Start(&why);
  if (old) {
    setenv("P2P_PG_BIN", saved.c_str(), 1);
  } else {
    unsetenv("P2P_PG_BIN");
  }
  EXPECT_EQ(pg, nullptr);
  EXPECT_EQ(why,
            "PostgreSQL: no executable /nonexistent/bin/initdb (install the postgresql package, "
            "as scripts/setup does, or set P2P_PG_BIN to the directory of initdb and pg_ctl)");
}

}  // namespace
}  // namespace p2p::test
