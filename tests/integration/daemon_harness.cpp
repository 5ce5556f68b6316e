#include "integration/daemon_harness.h"

#include <simdjson.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "config/options.h"
#include "store/resource_store.h"
#include "support/http_client.h"
#include "support/pg_cluster.h"
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
  auto secret_file = [&](const char* name, const std::string& text) {
    std::ofstream(tmp_.path() / name) << text << "\n";
    ::chmod((tmp_.path() / name).c_str(), 0600);
  };
  secret_file("secret", "sandbox-secret");
  std::ostringstream store;
  store << "store:\n  kind: " << o_.store << "\n";
  if (o_.store == "postgres") {
    if (o_.pg == nullptr) return "store postgres: HarnessOptions::pg is not set";
    std::string err;
    if (o_.pg_schema != "p2p" && !o_.pg->Psql("CREATE SCHEMA IF NOT EXISTS " + o_.pg_schema +
                                                  " AUTHORIZATION " + o_.pg->user(),
                                              &err)) {
      return "schema " + o_.pg_schema + ": " + err;
    }
    secret_file("pg-password", o_.pg->password());
    store << "  dsn: \"" << o_.pg->Dsn() << " connect_timeout=5\"\n  schema: " << o_.pg_schema
          << "\n  password_file: pg-password\n";
  } else {
    store << "  path: " << store_path() << "\n";
  }
  if (!o_.store_retry_interval.empty()) {
    store << "  full_retry_interval: " << o_.store_retry_interval << "\n";
  }
  std::ofstream c(config_path());
  if (o_.state == "postgres") {
    if (o_.pg == nullptr) return "state postgres: HarnessOptions::pg is not set";
    c << "state:\n  kind: postgres\n  dsn: \"" << o_.pg->Dsn()
      << " connect_timeout=5\"\n  password_file: pg-password\n  lease_timeout: 5s\n";
  } else {
    c << "state:\n  path: state.db\n";
  }
  c << store.str() << "log:\n  dir: log\n  level: debug\n"
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
                                                        std::vector<std::string> extra_env,
                                                        const std::string& instance) {
  std::string config = config_path();
  if (!instance.empty()) {
    config = InstanceConfig(instance);
    if (config.empty()) {
      *error = "no configuration for instance " + instance;
      return nullptr;
    }
  }
  ChildOptions co;
  co.extra_env = std::move(extra_env);
  co.wait_for_first_line = false;
  co.stderr_path =
      (tmp_.path() / (instance.empty() ? "daemon.stderr" : "daemon-" + instance + ".stderr"))
          .string();
  return ChildProcess::Start(IngestdExecutable(), {"run", "--config", config}, error, co);
}

std::string DaemonHarness::InstanceConfig(const std::string& id) const {
  std::string config = ReadFile(config_path());
  const std::string log_dir = "log:\n  dir: log\n";
  const size_t at = config.find(log_dir);
  if (at == std::string::npos) return "";
  config.replace(at, log_dir.size(), "log:\n  dir: log-" + id + "\n");
  const fs::path path = tmp_.path() / ("p2p-" + id + ".yaml");
  std::ofstream(path) << "instance:\n  id: " << id << "\n" << config;
  return path.string();
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
  if (o_.state == "postgres") {
    std::string err;
    auto rows = o_.pg->Psql(
        "SELECT member_key, state, COALESCE(error_class,''), COALESCE(error_detail,'') "
        "FROM p2p_state.members ORDER BY id",
        &err);
    EXPECT_TRUE(rows) << err;
    std::istringstream in(rows ? *rows : "");
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f;
      std::istringstream cols(line);
      for (std::string col; std::getline(cols, col, '|');) f.push_back(col);
      if (f.size() < 2) continue;
      const int s = std::atoi(f[1].c_str());
      std::string name = (s >= 0 && s < 12) ? kStateNames[s] : "?";
      if (name == "failed" && f.size() >= 4) name += " (" + f[2] + ": " + f[3] + ")";
      out[f[0]] = name;
    }
    return out;
  }
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
  if (o_.state == "postgres") {
    auto v = o_.pg->Psql("SET search_path TO p2p_state; " + sql);
    return v && !v->empty() ? std::atoll(v->c_str()) : -1;
  }
  return CountRowsIn(state_path(), sql);
}

bool DaemonHarness::Waiting(const std::string& name) const {
  if (fs::exists(inbox() / name)) return true;
  std::error_code ec;
  for (const auto& instance : fs::directory_iterator(inbox() / "claimed", ec)) {
    if (fs::exists(instance.path() / name)) return true;
  }
  return false;
}

int64_t CountRowsIn(const std::string& state_db, const std::string& sql) {
  int64_t n = -1;
  try {
    Db db(state_db);
    db.Query(sql, [&](sqlite3_stmt* st) { n = sqlite3_column_int64(st, 0); });
  } catch (const std::exception&) {
    return -1;  // not created yet (the daemon is still starting)
  }
  return n;
}

std::vector<std::string> FirstColumnIn(const std::string& state_db, const std::string& sql) {
  std::vector<std::string> out;
  Db db(state_db);
  db.Query(sql, [&](sqlite3_stmt* st) { out.push_back(Col(st, 0)); });
  return out;
}

Expected DaemonHarness::LoadStore() const {
  Expected e;
  if (o_.store == "postgres") {
    // Straight from the tables: (payer, id) is the primary key, so no duplicate can hide in a set.
    std::string err;
    auto rows = PgStoreRows(*o_.pg, o_.pg_schema, "", &err);
    if (!rows) throw std::runtime_error(err);
    for (const PgStoreRow& r : *rows) e.resources[r.type].insert({r.member_key, r.id});
    return e;
  }
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

std::string DiffFromExpected(const DaemonHarness& h) {
  Expected want = h.LoadExpected();
  std::map<std::string, std::string> states = h.MemberStates();
  Expected got = h.LoadStore();
  std::string out;
  int shown = 0;
  for (const auto& [key, outcome] : want.outcome) {
    auto it = states.find(key);
    std::string have = it == states.end() ? "(missing)" : it->second;
    if (have != outcome && shown++ < 10) out += key + ": want " + outcome + ", have " + have + "\n";
  }
  if (states.size() != want.outcome.size()) {
    out += "members in state DB: " + std::to_string(states.size()) + ", expected " +
           std::to_string(want.outcome.size()) + "\n";
  }
  for (const auto& [k, v] : got.outcome) out += k + ": " + v + " duplicated lines\n";
  std::set<std::string> types;
  for (const auto& [t, s] : want.resources) types.insert(t);
  for (const auto& [t, s] : got.resources) types.insert(t);
  for (const auto& t : types) {
    const auto& w = want.resources[t];
    const auto& g = got.resources[t];
    if (w == g) continue;
    size_t missing = 0, extra = 0;
    for (const auto& x : w) missing += g.count(x) == 0;
    for (const auto& x : g) extra += w.count(x) == 0;
    out += t + ": " + std::to_string(missing) + " missing, " + std::to_string(extra) +
           " extra (of " + std::to_string(w.size()) + ")\n";
  }
  return out;
}

std::string DaemonHarness::Log(const std::string& instance) const {
  const fs::path dir = tmp_.path() / (instance.empty() ? "log" : "log-" + instance);
  // Rotated files first, oldest first (p2p-ingestd.N.log ... p2p-ingestd.1.log): the text stays
  // in order, and an offset into it stays valid when the file rotates.
  std::string text;
  for (int n = 100; n >= 1; --n) {
    const fs::path rotated = dir / ("p2p-ingestd." + std::to_string(n) + ".log");
    if (fs::exists(rotated)) text += ReadFile(rotated.string());
  }
  return text + ReadFile((dir / "p2p-ingestd.log").string());
}

std::string DaemonHarness::StatusBase(std::chrono::milliseconds timeout) const {
  std::string url;
  WaitUntil(
      [&] {
        std::smatch m;
        const std::string log = Log();
        if (std::regex_search(log, m, std::regex("status endpoint on (http://[0-9.:]+)/status"))) {
          url = m[1];
        }
        return !url.empty();
      },
      timeout);
  return url;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string StatusJson(const std::string& base) {
  HttpClient c(base);
  return c.Get("/status").body;
}

int64_t SandboxStat(const DaemonHarness& h, const std::string& key) {
  HttpClient c(h.SandboxUrl());
  const std::string body = c.Get("/admin/stats").body;
  const size_t at = body.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(body.substr(at + key.size()));
}

std::optional<std::vector<PgStoreRow>> PgStoreRows(const test::PgCluster& pg,
                                                   const std::string& schema,
                                                   const std::string& extra, std::string* error) {
  // The type tables (named as FHIR types), then all their rows in one query.
  auto tables = pg.Psql("SELECT tablename FROM pg_tables WHERE schemaname = '" + schema +
                            "' AND tablename ~ '^[A-Z][A-Za-z]+$' ORDER BY 1",
                        error);
  if (!tables) return std::nullopt;
  std::vector<PgStoreRow> out;
  std::istringstream names(*tables);
  std::string sql;
  for (std::string t; std::getline(names, t);) {
    sql += std::string(sql.empty() ? "" : " UNION ALL ") + "SELECT '" + t + "', member_key, id, " +
           (extra.empty() ? "''" : extra) + " FROM " + schema + ".\"" + t + "\"";
  }
  if (sql.empty()) return out;
  auto rows = pg.Psql(sql, error);
  if (!rows) return std::nullopt;
  std::istringstream lines(*rows);
  for (std::string line; std::getline(lines, line);) {
    // psql -At: fields joined by '|'; FHIR type names, member keys and ids hold none.
    PgStoreRow r;
    std::istringstream fields(line);
    std::getline(fields, r.type, '|');
    std::getline(fields, r.member_key, '|');
    std::getline(fields, r.id, '|');
    std::getline(fields, r.extra);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace p2p::testing
