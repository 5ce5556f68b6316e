// Secrets, file modes, core dumps, insecure-http warnings and the status bind rule, seen from
// outside the daemon. The client secret and the status token are distinctive strings;
// after a real exchange with p2p-sandbox none of them (nor a bearer token, nor a member's family
// name) may appear in the log files, stdout/stderr, /status, /metrics or the state database.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "integration/security_setup.h"
#include "support/http_client.h"

namespace p2p::testing {
namespace {

namespace fs = std::filesystem;

// A port that was free a moment ago on 127.0.0.1 (the daemon binds it next).
int FreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// Every regular file under `root` (or `root` itself), concatenated.
std::string ReadAll(const fs::path& root) {
  std::string all;
  if (fs::is_regular_file(root)) return ReadFile(root.string());
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(root, ec)) {
    if (e.is_regular_file()) all += ReadFile(e.path().string());
  }
  return all;
}

// The family names of the roster (column 4 of members.csv): PHI that logs must not carry.
std::set<std::string> FamilyNames(const std::string& csv) {
  std::set<std::string> names;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string field;
    for (int i = 0; i < 4 && std::getline(row, field, ','); ++i) {
    }
    if (field.size() >= 4) names.insert(field);
  }
  return names;
}

class Secrets : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(SandboxExecutable().empty()); }
  SecuritySetup s;
};

TEST_F(Secrets, NeverInLogsOutputStatusMetricsOrTheStateDb) {
  ASSERT_EQ(s.StartSandbox({}), "");
  const int port = FreePort();
  s.WriteConfig("",
                "  listen: 127.0.0.1:" + std::to_string(port) + "\n  token_file: status-token\n");
  s.DropRoster();
  CommandResult once = s.Ingestd({"run", "--once"});
  ASSERT_EQ(once.exit_code, 0) << once.out << once.err;
  ASSERT_NE(once.out.find("    complete "), std::string::npos) << once.out;

  // The long-running daemon, for /status and /metrics over the finished exchange.
  std::string error;
  ChildOptions co;
  co.wait_for_first_line = false;
  co.stderr_path = s.File("daemon.stderr");
  auto daemon =
      ChildProcess::Start(IngestdExecutable(), {"run", "--config", s.config()}, &error, co);
  ASSERT_TRUE(daemon) << error;
  HttpClient status("http://127.0.0.1:" + std::to_string(port));
  status.set_timeout(std::chrono::milliseconds(500));
  const Headers auth = {{"Authorization", std::string("Bearer ") + kStatusTokenValue}};
  HttpResponse st;
  for (int i = 0; i < 200 && st.status != 200; ++i) {  // until the endpoint is up (<= ~4 s)
    st = status.Get("/status", auth);
    if (st.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(st.status, 200) << st.error;
  HttpResponse metrics = status.Get("/metrics", auth);
  ASSERT_EQ(metrics.status, 200);
  daemon->Signal(SIGTERM);
  ASSERT_TRUE(daemon->Wait(std::chrono::seconds(10)).has_value());

  const std::vector<std::pair<std::string, std::string>> places = {
      {"log files", ReadAll(s.File("log"))},
      {"run --once stdout+stderr", once.out + once.err},
      {"daemon stderr", ReadFile(s.File("daemon.stderr"))},
      {"/status", st.body},
      {"/metrics", metrics.body},
      {"state DB", ReadAll(s.File("state.db")) + ReadAll(s.File("state.db-wal"))},
  };
  const std::vector<std::string> secrets = {kClientSecretValue, kStatusTokenValue, "Bearer ",
                                            "access_token"};
  const std::set<std::string> names = FamilyNames(ReadFile(s.File("roster/members.csv")));
  ASSERT_FALSE(names.empty());
  for (const auto& [place, text] : places) {
    ASSERT_FALSE(text.empty()) << place;
    for (const std::string& secret : secrets) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " found in " << place;
    }
    if (place == "state DB") continue;  // PHI may live there (mode 0600), never elsewhere
    for (const std::string& name : names) {
      EXPECT_EQ(text.find(name), std::string::npos) << "a family name found in " << place;
    }
  }
}

TEST_F(Secrets, AGroupReadableSecretFileStopsTheStart) {
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig("", "  listen: off\n", 0640);
  CommandResult r = s.Ingestd({"run", "--once"});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.err.find("payers[0].auth.client_secret_file: " + s.File("secret") +
                       ": is readable by group or others (chmod 600)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find(kClientSecretValue), std::string::npos);
  EXPECT_FALSE(fs::exists(s.File("state.db")));
}

// No core file may carry the secrets in memory, and the daemon sets its own umask (started here
// under umask 0).
TEST_F(Secrets, TheDaemonCannotDumpCoreAndSetsItsOwnUmask) {
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig();
  std::string error;
  ChildOptions co;
  co.wait_for_first_line = false;
  co.stderr_path = s.File("daemon.stderr");
  const mode_t old = ::umask(0);
  auto daemon =
      ChildProcess::Start(IngestdExecutable(), {"run", "--config", s.config()}, &error, co);
  ::umask(old);
  ASSERT_TRUE(daemon) << error;
  // The limits are set first thing in main; wait until the process is the daemon (not the
  // forked test child before exec) by waiting for its first log file.
  for (int i = 0; i < 200 && !fs::exists(s.File("log/p2p-ingestd.log")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string limits = ReadFile("/proc/" + std::to_string(daemon->pid()) + "/limits");
  std::istringstream in(limits);
  std::string line, core;
  while (std::getline(in, line)) {
    if (line.rfind("Max core file size", 0) == 0) core = line;
  }
  std::istringstream fields(core.substr(std::string("Max core file size").size()));
  std::string soft, hard;
  fields >> soft >> hard;
  EXPECT_EQ(soft, "0") << core;
  EXPECT_EQ(hard, "0") << core;

  const std::string status = ReadFile("/proc/" + std::to_string(daemon->pid()) + "/status");
  EXPECT_NE(status.find("\nUmask:\t0077\n"), std::string::npos) << status.substr(0, 200);
}

TEST_F(Secrets, InsecureHttpIsWarnedAtEveryStart) {
  ASSERT_EQ(s.StartSandbox({}), "");
  // No members: nothing is sent to the (unreachable) payer.
  s.WriteConfig("    allow_insecure_http: true\n", "  listen: off\n", 0600, "http://10.255.0.1:9");
  for (int run = 1; run <= 2; ++run) {
    CommandResult r = s.Ingestd({"run", "--once"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string log = ReadAll(s.File("log"));
  const std::string warning =
      "payer bison: allow_insecure_http is true: plain http to http://10.255.0.1:9/v1/bison, "
      "http://10.255.0.1:9/auth/realms/dev-portal/protocol/openid-connect/token; the client "
      "secret, bearer tokens and member data may cross the network unencrypted";
  size_t count = 0;
  for (size_t at = log.find(warning); at != std::string::npos; at = log.find(warning, at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 2u) << log;
}

TEST(FileModes, EverythingTheDaemonCreatesIsOwnerOnlyWhateverTheUmask) {
  SecuritySetup s;
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig();
  // A row the source rejects, so that rejected/ and its .errors file exist too.
  s.DropRoster("M-bad,bison,,,not-a-date,,,,,,,,\n");
  const mode_t old = ::umask(0);
  CommandResult r = s.Ingestd({"run", "--once"});
  ::umask(old);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<fs::path> created = {s.File("state.db"), s.File("store"), s.File("log"),
                                   s.File("inbox/processed"), s.File("inbox/rejected")};
  int checked = 0;
  for (const fs::path& root : created) {
    ASSERT_TRUE(fs::exists(root)) << root;
    std::vector<fs::path> all = {root};
    if (fs::is_directory(root)) {
      for (const auto& e : fs::recursive_directory_iterator(root)) all.push_back(e.path());
    }
    for (const fs::path& p : all) {
      // Including the member file moved to processed/ (dropped 0644 by the test): the daemon
      // makes its kept copy owner-only.
      struct stat st {};
      ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
      EXPECT_EQ(st.st_mode & 077, 0u) << p << " mode " << std::oct << (st.st_mode & 07777);
      ++checked;
    }
  }
  for (const char* wal : {"state.db-wal", "state.db-shm"}) {
    struct stat st {};
    if (::lstat(s.File(wal).c_str(), &st) == 0) {
      EXPECT_EQ(st.st_mode & 077, 0u) << wal;
    }
  }
  EXPECT_GE(checked, 8);
}

TEST(StatusSecurity, NonLoopbackListenWithoutATokenNeverStarts) {
  SecuritySetup s;
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig("", "  listen: 0.0.0.0:8787\n");
  for (const char* command : {"check-config", "run"}) {
    CommandResult r = s.Ingestd({command});
    EXPECT_EQ(r.exit_code, 78) << command;
    EXPECT_NE(r.err.find(": status: a token is required when listen is not a loopback "
                         "address: set token_file, token_env or token_credential"),
              std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(fs::exists(s.File("state.db")));
}

}  // namespace
}  // namespace p2p::testing
