#include "integration/daemon_harness.h"

#include <simdjson.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "config/options.h"
#include "store/resource_store.h"
#include "support/sandbox_process.h"

namespace p2p::testing {

namespace fs = std::filesystem;

DaemonHarness::DaemonHarness(HarnessOptions o) : o_(std::move(o)), tmp_("p2p-it-") {}

std::string DaemonHarness::store_path() const {
  return (tmp_.path() / (o_.store == "sqlite" ? "resources.db" : "resources")).string();
}

std::string DaemonHarness::Start() {
  std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--members", std::to_string(o_.members),
                                   "--seed", std::to_string(o_.seed), "--flavor", o_.flavor,
                                   "--job-delay", o_.job_delay};
  if (!o_.faults.empty()) {
    args.push_back("--faults");
    args.push_back(o_.faults);
  }
  args.insert(args.end(), o_.sandbox_args.begin(), o_.sandbox_args.end());
  std::string err;
  ChildOptions co;
  co.stderr_path = (tmp_.path() / "sandbox.log").string();
  sandbox_ = ChildProcess::Start(SandboxExecutable(), args, &err, co);
  if (!sandbox_) return "sandbox: " + err;
  sandbox_url_ = sandbox_->ListeningUrl();
  if (sandbox_url_.empty()) return "sandbox: unexpected first line: " + sandbox_->first_line();

  auto roster = RunCommand(SandboxExecutable(), {"roster", "--members", std::to_string(o_.members),
                                             "--seed", std::to_string(o_.seed), "--out",
                                             (tmp_.path() / "roster").string()});
  if (roster.exit_code != 0) return "roster: " + roster.err;

  fs::create_directories(inbox());
  {
    std::ofstream s(tmp_.path() / "secret");
    s << "sandbox-secret\n";
  }
  ::chmod((tmp_.path() / "secret").c_str(), 0600);
  std::string host = sandbox_url_.substr(sandbox_url_.find("://") + 3);
  std::ofstream c(config_path());
  c << "state:\n  path: state.db\n"
    << "store:\n  kind: " << o_.store << "\n  path: " << store_path() << "\n"
    << "log:\n  dir: log\n  level: debug\n"
    << "status:\n  listen: \"" << o_.status_listen << "\"\n"
    << "source:\n  kind: directory\n  path: inbox\n  poll_interval: 100ms\n"
    << "payers:\n"
    << "  - id: bison\n"
    << "    base_url: " << sandbox_url_ << "/v1/bison\n"
    << "    member_match_path: /member-match-sandbox/$member-match\n"
    << "    export_path: /bulk-data/r4/Group/{group_id}/$export\n"
    << "    auth:\n";
  if (o_.auth_yaml.empty()) {
    c << "      method: client_secret_post\n"
      << "      token_url: " << sandbox_url_
      << "/auth/realms/dev-portal/protocol/openid-connect/token\n"
      << "      client_id: sandbox-client\n      client_secret_file: secret\n"
      << "      scope: member-match|read\n";
  } else {
    std::string auth = o_.auth_yaml;
    for (size_t at; (at = auth.find("{sandbox}")) != std::string::npos;) {
      auth.replace(at, 9, sandbox_url_);
    }
    c << auth;
  }
  c << "    trusted_hosts: [127.0.0.1]\n"
    << "    limits:\n      concurrency: " << o_.concurrency << "\n      requests_per_second: 2000\n"
    << "    retry:\n      max_attempts: " << o_.max_attempts
    << "\n      base_delay: 10ms\n      max_delay: 200ms\n"
    << "    poll:\n      min_interval: 20ms\n      max_interval: 200ms\n      timeout: 2m\n"
    << "    request_timeout: 5s\n";
  (void)host;
  return "";
}

void DaemonHarness::DropRoster(const std::string& name) {
  fs::copy_file(tmp_.path() / "roster" / "members.csv", inbox() / (name + ".tmp"),
                fs::copy_options::overwrite_existing);
  fs::rename(inbox() / (name + ".tmp"), inbox() / name);
}

int DaemonHarness::RunOnce(std::chrono::milliseconds timeout) {
  last_ = RunCommand(IngestdExecutable(), {"run", "--once", "--config", config_path()}, timeout);
  return last_.exit_code;
}

std::unique_ptr<ChildProcess> DaemonHarness::StartDaemon(std::string* error,
                                                        std::vector<std::string> extra_env) {
  ChildOptions co;
  co.extra_env = std::move(extra_env);
  co.wait_for_first_line = false;
  co.stderr_path = (tmp_.path() / "daemon.stderr").string();
  return ChildProcess::Start(IngestdExecutable(), {"run", "--config", config_path()}, error, co);
}

Expected DaemonHarness::LoadExpected() const {
  Expected e;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto text = simdjson::padded_string::load((tmp_.path() / "roster" / "expected.json").string());
  if (text.error() || parser.parse(text.value()).get(doc)) {
    throw std::runtime_error("expected.json unreadable");
  }
  for (simdjson::dom::element m : doc["members"].get_array()) {
    std::string key(m["member_key"].get_string().value());
    e.outcome[key] = std::string(m["outcome"].get_string().value());
    simdjson::dom::object res;
    if (m["resources"].get_object().get(res)) continue;
    for (auto [type, ids] : res) {
      for (simdjson::dom::element id : ids.get_array()) {
        e.resources[std::string(type)].insert({key, std::string(id.get_string().value())});
      }
    }
  }
  return e;
}

namespace {

struct Db {
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      // A failed open still allocates the handle (LeakSanitizer caught this while tests poll
      // for a DB the daemon has not created yet); the destructor does not run on a throw.
      sqlite3_close(db);
      throw std::runtime_error("cannot open " + path);
    }
    sqlite3_busy_timeout(db, 5000);
  }
  ~Db() { sqlite3_close(db); }
  template <typename Fn>
  void Query(const std::string& sql, Fn fn) const {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db));
    }
    while (sqlite3_step(st) == SQLITE_ROW) fn(st);
    sqlite3_finalize(st);
  }
  sqlite3* db = nullptr;
};

std::string Col(sqlite3_stmt* st, int i) {
  const unsigned char* p = sqlite3_column_text(st, i);
  return p == nullptr ? "" : reinterpret_cast<const char*>(p);
}

const char* kStateNames[] = {"pending",  "matching", "matched",         "exporting",
                             "polling",  "downloading", "complete",     "no_match",
                             "consent_refused", "consent_expired", "failed", "cancelled"};

}  // namespace

std::map<std::string, std::string> DaemonHarness::MemberStates() const {
  std::map<std::string, std::string> out;
  Db db(state_path());
  db.Query("SELECT member_key, state, COALESCE(error_class,''), COALESCE(error_detail,'') FROM members "
           "ORDER BY id",
           [&](sqlite3_stmt* st) {
             int s = sqlite3_column_int(st, 1);
             std::string name = (s >= 0 && s < 12) ? kStateNames[s] : "?";
             // A failed member's reason helps read a failing test.
             if (name == "failed") name += " (" + Col(st, 2) + ": " + Col(st, 3) + ")";
             out[Col(st, 0)] = name;
           });
  return out;
}

int64_t DaemonHarness::CountRows(const std::string& sql) const {
  int64_t n = -1;
  try {
    Db db(state_path());
    db.Query(sql, [&](sqlite3_stmt* st) { n = sqlite3_column_int64(st, 0); });
  } catch (const std::exception&) {
    return -1;  // not created yet (the daemon is still starting)
  }
  return n;
}

Expected DaemonHarness::LoadStore() const {
  Expected e;
  if (o_.store == "sqlite") {
    Db db(store_path());
    std::vector<std::string> tables;
    db.Query("SELECT name FROM sqlite_master WHERE type='table'",
             [&](sqlite3_stmt* st) { tables.push_back(Col(st, 0)); });
    for (const auto& t : tables) {
      db.Query("SELECT member_key, id FROM \"" + t + "\"",
               [&](sqlite3_stmt* st) { e.resources[t].insert({Col(st, 0), Col(st, 1)}); });
    }
    return e;
  }
  StoreOptions so;
  so.kind = StoreKind::kNdjson;
  so.path = store_path();
  auto store = store::ResourceStore::Open(so);
  if (!store) throw std::runtime_error(store.error().message);
  auto counts = (*store)->CountByType();
  if (!counts) throw std::runtime_error(counts.error().message);
  for (const auto& [type, n] : *counts) {
    auto& set = e.resources[type];
    int64_t lines = 0;
    auto r = (*store)->Scan(type, [&](const store::StoredResource& s) {
      ++lines;
      set.insert({std::string(s.member_key), std::string(s.id)});
    });
    if (!r) throw std::runtime_error(r.error().message);
    // A doubled line in the NDJSON store would hide in the set: count lines too.
    if (lines != static_cast<int64_t>(set.size())) {
      e.outcome["__duplicates__" + type] = std::to_string(lines - static_cast<int64_t>(set.size()));
    }
  }
  return e;
}

}  // namespace p2p::testing
