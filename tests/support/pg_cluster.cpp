#include "support/pg_cluster.h"

#include <arpa/inet.h>
#include <locale.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "support/child_process.h"

namespace p2p::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kDirPrefix[] = "p2p-pgcluster-";
constexpr char kSuperuser[] = "postgres";
constexpr char kRunuser[] = "/usr/sbin/runuser";
constexpr char kEnv[] = "/usr/bin/env";
constexpr int kStartAttempts = 5;  // a new free port each time another process took ours

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// $P2P_PG_BIN, else /usr/lib/postgresql/15/bin, else the highest /usr/lib/postgresql/N/bin.
std::string FindBinDir() {
  if (const char* env = std::getenv("P2P_PG_BIN"); env && *env) return env;
  const fs::path root = "/usr/lib/postgresql";
  if (Executable((root / "15/bin/pg_ctl").string())) return (root / "15/bin").string();
  int best = -1;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (Executable((e.path() / "bin/pg_ctl").string())) best = std::max(best, std::stoi(name));
  }
  return best < 0 ? std::string() : (root / std::to_string(best) / "bin").string();
}

// True when every directory from `path` up to / lets other users through (the postgres user
// cannot reach a cluster under, say, /root/tmp).
bool OthersCanReach(const fs::path& path) {
  std::error_code ec;
  fs::path p = fs::canonical(path, ec);
  if (ec) return false;
  while (true) {
    struct stat st {};
    if (stat(p.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) return false;
    if (p == p.root_path()) return true;
    p = p.parent_path();
  }
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string ProcFile(pid_t pid, const char* name) {
  return testing::ReadFile("/proc/" + std::to_string(pid) + "/" + name);
}

// The postmaster's pid from data_dir/postmaster.pid, 0 when there is none.
pid_t ReadPostmasterPid(const std::string& data_dir) {
  const std::string line = FirstLine(data_dir + "/postmaster.pid");
  return line.empty() ? 0 : static_cast<pid_t>(std::atol(line.c_str()));
}

// True when `pid` is the postmaster of data_dir (its command line names the directory), so a
// reused pid is never killed.
bool IsPostmasterOf(pid_t pid, const std::string& data_dir) {
  if (pid <= 0 || !ProcessAlive(pid)) return false;
  return ProcFile(pid, "cmdline").find(data_dir) != std::string::npos;
}

bool IsPostgresProcess(pid_t pid) { return Trimmed(ProcFile(pid, "comm")) == "postgres"; }

// Waits until `pid` has exited, on its pidfd where the kernel has them.
void WaitGone(pid_t pid, Clock::time_point deadline) {
#ifdef SYS_pidfd_open
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    pollfd pfd{fd, POLLIN, 0};
    if (left.count() > 0) poll(&pfd, 1, static_cast<int>(left.count()));
    close(fd);
    return;
  }
#endif
  while (ProcessAlive(pid) && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
}

// SIGKILLs whichever of the postmaster and its (earlier listed) children still run.
void KillRemaining(pid_t postmaster, const std::vector<pid_t>& children) {
  std::vector<pid_t> all = children;
  all.push_back(postmaster);
  std::vector<pid_t> killed;
  for (pid_t pid : all) {
    if (ProcessAlive(pid) && IsPostgresProcess(pid) && kill(pid, SIGKILL) == 0) {
      killed.push_back(pid);
    }
  }
  const auto deadline = Clock::now() + seconds(5);
  for (pid_t pid : killed) WaitGone(pid, deadline);
}

// Kills and removes the clusters under `base` whose test process died without its destructors.
void SweepAbandoned(const fs::path& base) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(base, ec)) {
    if (e.path().filename().string().rfind(kDirPrefix, 0) != 0) continue;
    const std::string owner = FirstLine((e.path() / "owner.pid").string());
    const pid_t owner_pid = owner.empty() ? 0 : static_cast<pid_t>(std::atol(owner.c_str()));
    if (owner_pid <= 0 || kill(owner_pid, 0) == 0 || errno != ESRCH) continue;
    const std::string data_dir = (e.path() / "data").string();
    const pid_t postmaster = ReadPostmasterPid(data_dir);
    if (IsPostmasterOf(postmaster, data_dir)) {
      KillRemaining(postmaster, ChildProcesses(postmaster));
    }
    fs::remove_all(e.path(), ec);
  }
}

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string RandomPassword() {
  std::random_device rd;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string s;
  for (int i = 0; i < 32; ++i) s += "0123456789abcdef"[digit(rd)];
  return s;
}

// A PostgreSQL configuration string literal.
std::string Quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("''") : std::string(1, c);
  return q + "'";
}

}  // namespace

bool ProcessAlive(pid_t pid) {
  const std::string stat = ProcFile(pid, "stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

std::vector<pid_t> ChildProcesses(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t candidate = static_cast<pid_t>(std::atol(name.c_str()));
    const std::string stat = ProcFile(candidate, "stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 4 >= stat.size()) continue;
    // After ") ": the state, then the parent's pid.
    if (std::atol(stat.c_str() + paren + 4) == pid) children.push_back(candidate);
  }
  return children;
}

std::unique_ptr<PgCluster> PgCluster::Start(std::string* why) {
  std::unique_ptr<PgCluster> cluster(new PgCluster);
  // On failure the destructor stops whatever was started and removes the directory.
  if (!cluster->Init(why) || !cluster->StartServer(why) || !cluster->CreateRoleAndDatabase(why)) {
    return nullptr;
  }
  return cluster;
}

PgCluster::~PgCluster() {
  if (dir_.empty()) return;
  const pid_t postmaster = ReadPostmasterPid(data_dir_);
  if (IsPostmasterOf(postmaster, data_dir_)) {
    const std::vector<pid_t> children = ChildProcesses(postmaster);
    RunPg("pg_ctl", {"stop", "-D", data_dir_, "-m", "immediate", "-w", "-t", "10", "-s"},
          seconds(15));
    KillRemaining(postmaster, children);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PgCluster::Dsn() const {
  return "host=" + host_ + " port=" + std::to_string(port_) + " dbname=" + database_ +
         " user=" + user_;
}

bool PgCluster::Init(std::string* why) {
  bin_ = FindBinDir();
  for (const char* program : {"initdb", "pg_ctl", "psql"}) {
    if (!Executable(bin_ + "/" + program)) {
      *why = "PostgreSQL: no executable " + (bin_.empty() ? "/usr/lib/postgresql/*/bin" : bin_) +
             "/" + program +
             " (install the postgresql package, as scripts/setup does, or set "
             "P2P_PG_BIN to the directory of initdb and pg_ctl)";
      return false;
    }
  }
  as_postgres_ = geteuid() == 0;
  owner_uid_ = geteuid();
  owner_gid_ = getegid();
  if (as_postgres_) {
    const passwd* pw = getpwnam(kSuperuser);
    if (pw == nullptr) {
      *why =
          "PostgreSQL refuses to run as root and there is no 'postgres' system user to run "
          "it as (install the postgresql package, as scripts/setup does)";
      return false;
    }
    if (!Executable(kRunuser)) {
      *why = std::string("PostgreSQL: no ") + kRunuser + " to run the server as 'postgres'";
      return false;
    }
    owner_uid_ = pw->pw_uid;
    owner_gid_ = pw->pw_gid;
  }

  const char* tmp = std::getenv("TMPDIR");
  fs::path base = tmp && *tmp ? tmp : "/tmp";
  if (as_postgres_ && !OthersCanReach(base)) base = "/tmp";
  SweepAbandoned(base);
  std::string pattern = (base / kDirPrefix).string() + "XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    *why = "PostgreSQL: mkdtemp " + pattern + ": " + std::strerror(errno);
    return false;
  }
  dir_ = pattern;
  data_dir_ = dir_ + "/data";
  std::ofstream(dir_ + "/owner.pid") << getpid() << "\n";
  if (chown(dir_.c_str(), owner_uid_, owner_gid_) != 0) {
    *why = "PostgreSQL: chown " + dir_ + ": " + std::strerror(errno);
    return false;
  }

  // C.UTF-8 where the C library has it (glibc 2.35+), else C; the encoding is UTF8 either way.
  locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  const std::string locale = utf8 ? "C.UTF-8" : "C";
  if (utf8) freelocale(utf8);
  // --no-sync only for initdb's own files; the server runs with fsync on.
  Run init =
      RunPg("initdb",
            {"-D", data_dir_, "--auth-local=trust", "--auth-host=scram-sha-256", "-U", kSuperuser,
             "-E", "UTF8", "--locale=" + locale, "--no-sync", "--no-instructions"},
            seconds(60));
  if (init.exit_code != 0) {
    *why = "PostgreSQL: initdb exited with " + std::to_string(init.exit_code) + ": " +
           Trimmed(init.err);
    return false;
  }
  // Only the superuser on the private socket, and password logins over loopback TCP.
  std::ofstream(data_dir_ + "/pg_hba.conf", std::ios::trunc)
      << "# Written by the test fixture PgCluster.\n"
      << "local all " << kSuperuser << " trust\n"
      << "host all all 127.0.0.1/32 scram-sha-256\n";
  std::ofstream(data_dir_ + "/postgresql.conf", std::ios::app) << "\ninclude 'p2p_test.conf'\n";
  return true;
}

bool PgCluster::StartServer(std::string* why) {
  const std::string conf = data_dir_ + "/p2p_test.conf";
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    port_ = FreeLoopbackPort();
    if (port_ == 0) {
      *why = std::string("PostgreSQL: no free loopback port: ") + std::strerror(errno);
      return false;
    }
    std::ofstream(conf, std::ios::trunc)
        << "# Written by the test fixture PgCluster: a private, light server, durable as in\n"
        << "# production (fsync on).\n"
        << "listen_addresses = '127.0.0.1'\n"
        << "port = " << port_ << "\n"
        << "unix_socket_directories = " << Quoted(dir_) << "\n"
        << "fsync = on\n"
        << "synchronous_commit = on\n"
        << "full_page_writes = on\n"
        << "password_encryption = 'scram-sha-256'\n"
        << "max_connections = 50\n"
        << "shared_buffers = 32MB\n"
        << "max_wal_senders = 0\n"
        << "max_parallel_workers_per_gather = 0\n"  // no parallel query: no /dev/shm segments
        << "jit = off\n";
    if (chown(conf.c_str(), owner_uid_, owner_gid_) != 0) {
      *why = "PostgreSQL: chown " + conf + ": " + std::strerror(errno);
      return false;
    }
    if (StartAgain(why)) return true;
    // Another process took the port between our probe and the server's bind: try another.
    if (LogTail().find("Address already in use") == std::string::npos) return false;
  }
  return false;
}

bool PgCluster::StartAgain(std::string* why) {
  Run r = RunPg("pg_ctl",
                {"start", "-D", data_dir_, "-l", dir_ + "/server.log", "-w", "-t", "30", "-s"},
                seconds(40));
  if (r.exit_code == 0) return true;
  *why = "PostgreSQL: pg_ctl start (port " + std::to_string(port_) + ") exited with " +
         std::to_string(r.exit_code) + ": " + Trimmed(r.err) + "\nserver log, last lines:\n" +
         LogTail();
  return false;
}

bool PgCluster::Stop(std::string* why) {
  Run r =
      RunPg("pg_ctl", {"stop", "-D", data_dir_, "-m", "fast", "-w", "-t", "30", "-s"}, seconds(40));
  if (r.exit_code == 0) return true;
  *why = "PostgreSQL: pg_ctl stop exited with " + std::to_string(r.exit_code) + ": " +
         Trimmed(r.err) + "\nserver log, last lines:\n" + LogTail();
  return false;
}

bool PgCluster::CreateRoleAndDatabase(std::string* why) {
  password_ = RandomPassword();
  std::string err;
  // The database belongs to the superuser; the role may connect and use temporary tables (COPY
  // staging), and owns its schema: nothing else.
  if (!Psql("CREATE ROLE " + user_ + " LOGIN PASSWORD '" + password_ + "';\n" + "CREATE DATABASE " +
                database_ + " OWNER " + kSuperuser + ";\n" + "REVOKE ALL ON DATABASE " + database_ +
                " FROM PUBLIC;\n" + "GRANT CONNECT, TEMPORARY ON DATABASE " + database_ + " TO " +
                user_ + ";\n",
            &err, "postgres") ||
      !Psql("CREATE SCHEMA p2p AUTHORIZATION " + user_ + ";\n" +
                "CREATE SCHEMA p2p_state AUTHORIZATION " + user_ + ";\n",
            &err, database_)) {
    *why = "PostgreSQL: creating role and database: " + err;
    return false;
  }
  return true;
}

std::optional<std::string> PgCluster::Psql(const std::string& sql, std::string* err,
                                           const std::string& db) const {
  // A script file (not -c) so that statements run one by one, CREATE DATABASE included.
  const std::string script = dir_ + "/psql-" + std::to_string(++psql_seq_) + ".sql";
  std::ofstream(script, std::ios::trunc) << sql << "\n";
  if (chown(script.c_str(), owner_uid_, owner_gid_) != 0) {
    if (err) *err = "psql: chown " + script + ": " + std::strerror(errno);
    unlink(script.c_str());
    return std::nullopt;
  }
  Run r = RunPg("psql",
                {"-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", dir_, "-p",
                 std::to_string(port_), "-U", kSuperuser, "-d", db, "-f", script},
                seconds(60));
  unlink(script.c_str());
  if (r.exit_code != 0) {
    if (err) {
      *err = r.err.empty() ? "psql exited with " + std::to_string(r.exit_code) : Trimmed(r.err);
    }
    return std::nullopt;
  }
  if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

PgCluster::Run PgCluster::RunPg(const std::string& program, const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout) const {
  // env -C: the programs start in the cluster's directory, which the postgres user can enter
  // (the test's own working directory may be closed to it).
  std::vector<std::string> argv;
  if (as_postgres_) argv = {"-u", kSuperuser, "--", kEnv};
  argv.insert(argv.end(), {"-C", dir_, bin_ + "/" + program});
  argv.insert(argv.end(), args.begin(), args.end());
  testing::CommandResult r = testing::RunCommand(as_postgres_ ? kRunuser : kEnv, argv, timeout);
  return Run{r.exit_code, std::move(r.out), std::move(r.err)};
}

std::string PgCluster::LogTail() const {
  std::istringstream log(testing::ReadFile(dir_ + "/server.log"));
  std::deque<std::string> tail;
  for (std::string line; std::getline(log, line);) {
    tail.push_back(line);
    if (tail.size() > 20) tail.pop_front();
  }
  std::string text;
  for (const std::string& line : tail) text += line + "\n";
  return Trimmed(text);
}

}  // namespace p2p::test
