// PgCluster: a throwaway PostgreSQL server for one test, never the system's cluster.
//
// Start() runs initdb in a fresh directory under $TMPDIR (or /tmp, when the postgres user cannot
// reach $TMPDIR) and starts the server on a free 127.0.0.1 port and a Unix socket in that
// directory, with fsync on. PostgreSQL refuses to run as root, so when the test runs as root the
// directory belongs to the `postgres` system user and every PostgreSQL program (initdb, pg_ctl,
// psql) runs as that user through `runuser`; otherwise they run as the current user. Binaries:
// $P2P_PG_BIN, else /usr/lib/postgresql/15/bin, else the highest /usr/lib/postgresql/*/bin.
//
// Access: the superuser `postgres` logs in without a password over the Unix socket only (Psql);
// over TCP only password logins (scram-sha-256) are accepted. The application role `p2p_ingest`
// (LOGIN, a random password per cluster) may CONNECT to database `p2p` and create TEMPORARY
// tables there, and owns schemas `p2p` (store) and `p2p_state` (job state) in it: the least
// privilege the daemon needs.
//
// Failures return false / nullptr / nullopt with the reason in *why (the server log's tail when
// the server was involved); a test FAILs with it, it never skips. Every PostgreSQL program runs
// with a timeout (pg_ctl -w -t 30). The destructor stops the server at once (immediate mode),
// kills what is left of it, and removes the directory. A cluster left behind by a test process
// that died without its destructors is killed and removed by the next Start().
//
// Threading: Psql and the accessors may be called from several threads at once; Stop,
// StartAgain and Restart not concurrently with anything else on the same cluster.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace p2p::test {

class PgCluster {
 public:
  // Starts a new cluster; nullptr and *why set when it cannot (tests then FAIL with *why).
  static std::unique_ptr<PgCluster> Start(std::string* why);
  // Immediate stop, kill leftovers, remove the directory.
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  int port() const { return port_; }
  const std::string& host() const { return host_; }          // "127.0.0.1"
  const std::string& user() const { return user_; }          // "p2p_ingest"
  const std::string& password() const { return password_; }  // random per cluster
  const std::string& database() const { return database_; }  // "p2p"
  // libpq keyword DSN for TCP, without the password:
  // "host=127.0.0.1 port=N dbname=p2p user=p2p_ingest".
  std::string Dsn() const;
  // The directory of the server's Unix socket (the cluster's own directory).
  const std::string& socket_dir() const { return dir_; }

  // Runs `sql` (any number of statements, each in its own transaction unless the SQL says
  // otherwise) as the superuser over the Unix socket in database `db`:
  // psql -X -q -At -v ON_ERROR_STOP=1. Returns stdout without its trailing newline; on failure
  // nullopt, with psql's stderr in *err.
  std::optional<std::string> Psql(const std::string& sql, std::string* err = nullptr,
                                  const std::string& db = "p2p") const;

  // pg_ctl stop -m fast -w: the server shuts down cleanly; false and *why when it does not.
  bool Stop(std::string* why);
  // pg_ctl start -w, same port and directory; false and *why (with the log's tail) on failure.
  bool StartAgain(std::string* why);
  bool Restart(std::string* why) { return Stop(why) && StartAgain(why); }

 private:
  PgCluster() = default;
  bool Init(std::string* why);
  bool StartServer(std::string* why);
  bool CreateRoleAndDatabase(std::string* why);
  // Runs a PostgreSQL program as the cluster's owner, in the cluster's directory.
  struct Run {
    int exit_code;
    std::string out, err;
  };
  Run RunPg(const std::string& program, const std::vector<std::string>& args,
            std::chrono::milliseconds timeout) const;
  std::string LogTail() const;

  std::string bin_;           // directory of initdb, pg_ctl, psql
  std::string dir_;           // the cluster's directory: data/, server.log, the socket
  std::string data_dir_;      // dir_/data
  bool as_postgres_ = false;  // run the programs through runuser (the test runs as root)
  uid_t owner_uid_ = 0;
  gid_t owner_gid_ = 0;
  int port_ = 0;
  std::string host_ = "127.0.0.1";
  std::string user_ = "p2p_ingest";
  std::string password_;
  std::string database_ = "p2p";
  mutable std::atomic<unsigned> psql_seq_{0};  // names Psql's script files
};

// Process inspection through /proc, for the cluster's clean-up and the tests that check it.
// True while `pid` runs (a zombie counts as gone).
bool ProcessAlive(pid_t pid);
// The pids whose parent is `pid` (a postmaster's backends and auxiliary processes).
std::vector<pid_t> ChildProcesses(pid_t pid);

}  // namespace p2p::test
