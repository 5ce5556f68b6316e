// The operator commands (enqueue, status, members list/show, retry, cancel, export --group) of
// p2p-ingestd against a PostgreSQL job state with the PostgreSQL store and a daemon
// (`run --once`) against p2p-sandbox, side by side with the same commands on an SQLite state:
// the same roster gives the same outcomes, and the commands print the same (times aside).
// `enqueue` writes the members straight into the PostgreSQL state (no inbox file), refuses a
// name already taken in, and every command that changes jobs wakes the cluster's daemons
// (NOTIFY p2p_wake with the payer), which a LISTEN connection of the test receives.
#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "postgres/pg_daemon_test.h"
#include "support/child_process.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

namespace fs = std::filesystem;

// A LISTEN p2p_wake connection of the application role: the daemons' side of the wake-ups.
class WakeListener {
 public:
  explicit WakeListener(const test::PgCluster& pg)
      : conn_(PQconnectdb((pg.Dsn() + " password=" + pg.password() + " connect_timeout=5").c_str())) {
    if (ok()) PQclear(PQexec(conn_, "LISTEN p2p_wake"));
  }
  ~WakeListener() { PQfinish(conn_); }
  WakeListener(const WakeListener&) = delete;
  WakeListener& operator=(const WakeListener&) = delete;
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }

  // Payloads received until none arrives for `quiet` (after the first, waited for up to 5 s).
  std::vector<std::string> Drain(std::chrono::milliseconds quiet = std::chrono::milliseconds(300)) {
    std::vector<std::string> out;
    auto wait = std::chrono::milliseconds(5000);
    for (;;) {
      pollfd p{PQsocket(conn_), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) break;
      PQconsumeInput(conn_);
      while (PGnotify* n = PQnotifies(conn_)) {
        out.emplace_back(n->extra);
        PQfreemem(n);
      }
      wait = quiet;
    }
    return out;
  }

 private:
  PGconn* conn_;
};

// Operator output with the times taken out: timestamps, durations and the state DB's location.
std::string Normalized(const std::string& text) {
  static const std::regex kTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  static const std::regex kLocation(R"(^state DB .* at <t>\n)");
  return std::regex_replace(std::regex_replace(text, kTime, "<t>"), kLocation, "");
}

class PgOperator : public PgDaemonTest {
 protected:
  void SetUp() override {
    PgDaemonTest::SetUp();
    if (HasFatalFailure()) return;
    HarnessOptions o = Options();
    o.members = 40;
    o.pg_schema = "p2p_lite";  // the SQLite-state run's store
    lite_ = std::make_unique<DaemonHarness>(o);
    o.pg_schema = "p2p";
    o.state = "postgres";
    pg_state_ = std::make_unique<DaemonHarness>(o);
    ASSERT_EQ(lite_->Start(), "");
    ASSERT_EQ(pg_state_->Start(), "");
  }

  // p2p-ingestd `args` --config <h's config>.
  static CommandResult Op(const DaemonHarness& h, std::vector<std::string> args) {
    args.push_back("--config");
    args.push_back(h.config_path());
    return RunCommand(IngestdExecutable(), args, std::chrono::seconds(60));
  }
  // The roster copied outside the inbox under `name`, as an operator's file.
  static std::string RosterFile(const DaemonHarness& h, const std::string& name) {
    const fs::path to = h.dir() / name;
    fs::copy_file(h.dir() / "roster" / "members.csv", to, fs::copy_options::overwrite_existing);
    return to.string();
  }
  // The same command on both states: exit codes and normalized output equal; returns the
  // PostgreSQL state's result.
  CommandResult Both(const std::vector<std::string>& args) {
    SCOPED_TRACE(args.front());
    const CommandResult lite = Op(*lite_, args);
    const CommandResult pg = Op(*pg_state_, args);
    EXPECT_EQ(pg.exit_code, lite.exit_code) << pg.err << "\n--- sqlite:\n" << lite.err;
    EXPECT_EQ(Normalized(pg.out), Normalized(lite.out));
    EXPECT_EQ(Normalized(pg.err), Normalized(lite.err));
    return pg;
  }
  // A member of the roster whose expected outcome is `outcome`.
  std::string KeyWith(const std::string& outcome) const {
    for (const auto& [key, o] : pg_state_->LoadExpected().outcome) {
      if (o == outcome) return key;
    }
    ADD_FAILURE() << "no " << outcome << " member in the roster";
    return "";
  }

  std::unique_ptr<DaemonHarness> lite_, pg_state_;
};

TEST_F(PgOperator, CommandsAgainstAPostgresStateMatchTheSqliteState) {
  WakeListener wake(*pg_);
  ASSERT_TRUE(wake.ok());

  // enqueue: SQLite hands the file to the inbox, PostgreSQL takes the members in at once.
  const CommandResult lite_in = Op(*lite_, {"enqueue", RosterFile(*lite_, "january.csv")});
  ASSERT_EQ(lite_in.exit_code, 0) << lite_in.err;
  EXPECT_TRUE(fs::exists(lite_->inbox() / "january.csv"));
  const CommandResult pg_in = Op(*pg_state_, {"enqueue", RosterFile(*pg_state_, "january.csv")});
  ASSERT_EQ(pg_in.exit_code, 0) << pg_in.err;
  EXPECT_NE(pg_in.out.find("january.csv: 40 members enqueued into the state DB "),
            std::string::npos)
      << pg_in.out;
  EXPECT_NE(pg_in.out.find("(40 new jobs, 0 with an active or complete job already)"),
            std::string::npos)
      << pg_in.out;
  EXPECT_FALSE(fs::exists(pg_state_->inbox() / "january.csv"));
  EXPECT_EQ(pg_state_->CountRows("SELECT COUNT(*) FROM members"), 40);
  EXPECT_EQ(pg_state_->CountRows("SELECT COUNT(*) FROM source_files WHERE name='january.csv'"), 1);
  EXPECT_EQ(wake.Drain(), std::vector<std::string>{"bison"});
  // The same name again: PostgreSQL has taken it in (SQLite: it waits in the inbox).
  const CommandResult again = Op(*pg_state_, {"enqueue", RosterFile(*pg_state_, "january.csv")});
  EXPECT_EQ(again.exit_code, 65);
  EXPECT_NE(again.err.find("a file named january.csv was already taken in; rename it"),
            std::string::npos)
      << again.err;
  EXPECT_EQ(pg_state_->CountRows("SELECT COUNT(*) FROM members"), 40);

  ASSERT_EQ(lite_->RunOnce(), 0) << lite_->last_run().err;
  ASSERT_EQ(pg_state_->RunOnce(), 0) << pg_state_->last_run().err;
  EXPECT_EQ(DiffFromExpected(*lite_), "");
  EXPECT_EQ(DiffFromExpected(*pg_state_), "");
  wake.Drain(std::chrono::milliseconds(50));

  const CommandResult status = Both({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("members: 40 jobs, 0 in progress"), std::string::npos) << status.out;
  EXPECT_NE(Op(*pg_state_, {"status"}).out.find("(schema p2p_state)"), std::string::npos);
  EXPECT_EQ(Both({"members", "list"}).exit_code, 0);
  EXPECT_EQ(Both({"members", "list", "--state", "no_match", "--limit", "3"}).exit_code, 0);
  EXPECT_EQ(Both({"members", "list", "--payer", "bison", "--state", "complete"}).exit_code, 0);
  EXPECT_EQ(Both({"members", "list", "--payer", "elk"}).out, "no members\n");
  const std::string no_match = KeyWith("no_match");
  const CommandResult show = Op(*pg_state_, {"members", "show", no_match});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("no_match"), std::string::npos) << show.out;
  EXPECT_EQ(Both({"members", "show", "nobody"}).exit_code, 66);

  // retry, cancel, retry --state: the same transitions, each waking the payer's daemons.
  EXPECT_EQ(Both({"retry", no_match}).exit_code, 0);
  EXPECT_EQ(wake.Drain(), std::vector<std::string>{"bison"});
  EXPECT_EQ(Both({"cancel", no_match}).exit_code, 0);
  EXPECT_EQ(wake.Drain(), std::vector<std::string>{"bison"});
  EXPECT_EQ(Both({"cancel", no_match}).exit_code, 65);  // nothing in progress any more
  EXPECT_EQ(Both({"retry", "--state", "cancelled"}).out, "requeued 1 cancelled jobs\n");
  EXPECT_EQ(wake.Drain(), std::vector<std::string>{"bison"});
  EXPECT_EQ(Both({"retry", "--state", "failed"}).out, "requeued 0 failed jobs\n");
  EXPECT_EQ(Both({"retry", KeyWith("complete")}).exit_code, 65);

  // The requeued member runs again and reaches its outcome again.
  ASSERT_EQ(lite_->RunOnce(), 0) << lite_->last_run().err;
  ASSERT_EQ(pg_state_->RunOnce(), 0) << pg_state_->last_run().err;
  EXPECT_EQ(DiffFromExpected(*pg_state_), "");
  EXPECT_EQ(Both({"status"}).exit_code, 0);

  // export --group: a Group the payer knows, queued in the state and run by the daemon.
  const int64_t job = pg_state_->CountRows("SELECT MIN(id) FROM members WHERE state=6");
  const std::string group = [&] {
    auto v = pg_->Psql("SELECT group_id FROM p2p_state.members WHERE id=" + std::to_string(job));
    return v ? *v : std::string();
  }();
  ASSERT_FALSE(group.empty());
  wake.Drain(std::chrono::milliseconds(50));
  const CommandResult exported = Op(*pg_state_, {"export", "--payer", "bison", "--group", group});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(wake.Drain(), std::vector<std::string>{"bison"});
  EXPECT_EQ(Op(*pg_state_, {"export", "--payer", "bison", "--group", group}).exit_code, 65);
  ASSERT_EQ(pg_state_->RunOnce(), 0) << pg_state_->last_run().err;
  EXPECT_EQ(pg_state_->CountRows("SELECT state FROM members WHERE member_key='group:" + group + "'"),
            6);
}

// A file with a bad row is refused whole unless --accept-partial; with it, the good rows go into
// the PostgreSQL state and the file is recorded with its bad-row count.
TEST_F(PgOperator, EnqueueIntoThePostgresStateRefusesBadRowsUnlessAcceptPartial) {
  const std::string file = RosterFile(*pg_state_, "partial.csv");
  {
    std::ofstream(file, std::ios::app) << "no-payer-row,nobody,A,B,1970-01-01,,C,,2027-01-01,"
                                          "2027-01-01,2027-01-01,2028-01-01,regular,false\n";
  }
  const CommandResult refused = Op(*pg_state_, {"enqueue", file});
  EXPECT_EQ(refused.exit_code, 65);
  EXPECT_NE(refused.err.find("partial.csv:42: "), std::string::npos) << refused.err;
  EXPECT_EQ(pg_state_->CountRows("SELECT COUNT(*) FROM members"), 0);
  const CommandResult partial = Op(*pg_state_, {"enqueue", file, "--accept-partial"});
  ASSERT_EQ(partial.exit_code, 0) << partial.err;
  EXPECT_NE(partial.out.find("(1 problems, listed above)"), std::string::npos) << partial.out;
  EXPECT_EQ(pg_state_->CountRows("SELECT COUNT(*) FROM members"), 40);
  EXPECT_EQ(pg_state_->CountRows("SELECT rows_bad FROM source_files WHERE name='partial.csv'"), 1);
  EXPECT_EQ(pg_state_->CountRows("SELECT COUNT(*) FROM source_keys"), 0);
}

}  // namespace
}  // namespace p2p::testing
