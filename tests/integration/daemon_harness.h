// Test harness: p2p-sandbox + p2p-ingestd in a temp dir, and the comparison of the daemon's
// outcome with the roster's expected.json (outcome per member, ids per type per member).
// With HarnessOptions::pg, the store is a PostgreSQL schema of that throwaway cluster
// (support/pg_cluster.h), read back by SQL as the superuser.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/child_process.h"
#include "support/temp_dir.h"

namespace p2p::test {
class PgCluster;
}

namespace p2p::testing {

struct Expected {
  std::map<std::string, std::string> outcome;  // member_key -> complete | no_match | consent_refused
  // type -> {(member_key, id)}
  std::map<std::string, std::set<std::pair<std::string, std::string>>> resources;
};

struct HarnessOptions {
  int members = 200;
  int seed = 7;
  std::string flavor = "1up";
  std::string store = "sqlite";  // sqlite | ndjson | postgres (needs `pg`)
  // store "postgres": the cluster (it outlives the harness) and the schema the store uses; a
  // schema other than p2p is created for the application role. The password goes in a 0600 file
  // (store.password_file).
  const test::PgCluster* pg = nullptr;
  std::string pg_schema = "p2p";
  // "postgres" (needs store "postgres"): the job state in schema p2p_state of the same cluster
  // (state.kind: postgres); MemberStates and CountRows then read it by SQL.
  std::string state = "sqlite";
  std::string store_retry_interval;  // store.full_retry_interval; "" = the default (30s)
  std::string faults;  // sandbox --faults
  std::string job_delay = "50ms";
  int concurrency = 16;
  int max_attempts = 12;
  std::string status_listen = "off";  // e.g. "127.0.0.1:0"
  // The payer's `auth:` block (indented lines after "    auth:\n"); empty: client_secret_post
  // with the sandbox's default client. Files it names are relative to dir(); "{sandbox}" becomes
  // the sandbox's URL.
  std::string auth_yaml;
  std::vector<std::string> sandbox_args;  // extra p2p-sandbox flags, e.g. --client-jwks
};

class DaemonHarness {
 public:
  explicit DaemonHarness(HarnessOptions o);

  // Starts the sandbox, writes the roster and the config. Returns "" or an error.
  std::string Start();
  // Moves the roster's members.csv into the inbox under `name`.
  void DropRoster(const std::string& name);
  // p2p-ingestd run --once; returns its exit code (stdout/stderr kept in last_run()).
  int RunOnce(std::chrono::milliseconds timeout = std::chrono::seconds(240));
  const CommandResult& last_run() const { return last_; }
  // p2p-ingestd run (not once) as a child, for kill tests. With `instance`, the daemon of that
  // instance.id (InstanceConfig), its stderr in daemon-<instance>.stderr.
  std::unique_ptr<ChildProcess> StartDaemon(std::string* error,
                                            std::vector<std::string> extra_env = {},
                                            const std::string& instance = "");
  // The configuration of instance `id` of a cluster sharing this harness's inbox, state and
  // store (state "postgres"): the harness's config with instance.id set and its own log
  // directory log-<id>/, written to p2p-<id>.yaml (its path returned). "" before Start().
  std::string InstanceConfig(const std::string& id) const;

  Expected LoadExpected() const;
  std::map<std::string, std::string> MemberStates() const;  // member_key -> state name
  int64_t CountRows(const std::string& sql) const;          // on the state DB
  // Whether inbox file `name` is not yet taken in: still in the inbox, or claimed by a daemon
  // (inbox/claimed/<instance>/) and not finished.
  bool Waiting(const std::string& name) const;
  Expected LoadStore() const;                                // outcome: unused
  std::string SandboxUrl() const { return sandbox_url_; }

  // The daemon's log (log/p2p-ingestd.log; instance `id`'s: log-<id>/p2p-ingestd.log), its
  // rotated files (p2p-ingestd.N.log) first, "" before it exists.
  std::string Log(const std::string& instance = "") const;
  // The status endpoint's base URL ("http://H:P") from the log's "status endpoint on" line,
  // waiting up to `timeout` for it; "" when it does not come.
  std::string StatusBase(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

  const std::filesystem::path& dir() const { return tmp_.path(); }
  std::string config_path() const { return (tmp_.path() / "p2p.yaml").string(); }
  std::string state_path() const { return (tmp_.path() / "state.db").string(); }
  std::string store_path() const;
  std::filesystem::path inbox() const { return tmp_.path() / "inbox"; }

 private:
  HarnessOptions o_;
  TempDir tmp_;
  std::unique_ptr<ChildProcess> sandbox_;
  std::string sandbox_url_;
  CommandResult last_;
};

// Outcomes (state DB) and stored ids per type per member (the store) against expected.json: a
// readable diff, "" when they are equal.
std::string DiffFromExpected(const DaemonHarness& h);

// The first column of an SQLite state DB's single-column answer: a count (-1 while the DB does
// not exist yet), or every row's value as text (throws when the DB cannot be read).
int64_t CountRowsIn(const std::string& state_db, const std::string& sql);
std::vector<std::string> FirstColumnIn(const std::string& state_db, const std::string& sql);

// Waits (polling the other processes' state every 20 ms) until `done` holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// GET `base` + /status: the body, "" when it does not answer.
std::string StatusJson(const std::string& base);

// The number after `key` in the harness sandbox's /admin/stats (e.g. "\"jobs_cancelled\":");
// -1 when absent.
int64_t SandboxStat(const DaemonHarness& h, const std::string& key);

// One row of a PostgreSQL store's type table, read as the superuser.
struct PgStoreRow {
  std::string type, member_key, id;
  std::string extra;  // the value of PgStoreRows' `extra` expression
};
// Every row of the type tables in `schema`, with `extra` (an SQL expression over the row, e.g.
// "md5(resource::text)"; "" for none); nullopt and *error when psql fails.
std::optional<std::vector<PgStoreRow>> PgStoreRows(const test::PgCluster& pg,
                                                   const std::string& schema,
                                                   const std::string& extra, std::string* error);

}  // namespace p2p::testing
