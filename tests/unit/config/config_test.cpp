#include "config/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace p2p {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Real files, made-up environment variables.
class TestEnv : public SystemEnv {
 public:
  std::map<std::string, std::string> vars;
  std::optional<std::string> GetEnv(const std::string& name) const override {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  }
};

// A valid config; the tests below change one line at a time so the line numbers stay put.
constexpr const char* kBase = R"(state:
  path: /var/lib/p/state.db
store:
  kind: sqlite
  path: /var/lib/p/resources.db
log:
  dir: /var/log/p
  level: info
status:
  listen: 127.0.0.1:8787
source:
  kind: directory
  path: /var/lib/p/inbox
  poll_interval: 5s
payers:
  - id: bison
    name: Bison
    base_url: https://gateway.example/v1/bison
    member_match_path: /Patient/$member-match
    export_path: /Group/{group_id}/$export
    auth:
      method: client_secret_post
      token_url: https://auth.example/token
      client_id: client-1
      client_secret_env: SECRET_ONE
      scope: member-match|read
    trusted_hosts: [gateway.example]
    limits:
      concurrency: 4
      requests_per_second: 10
    retry:
      max_attempts: 8
      base_delay: 500ms
      max_delay: 1m
    poll:
      min_interval: 1s
      max_interval: 1m
      timeout: 24h
    request_timeout: 30s
)";

// kBase with the line `from` (exactly once, whole line) replaced by `to`.
std::string With(const std::string& from, const std::string& to, std::string text = kBase) {
  text.insert(0, "\n");
  const std::string needle = "\n" + from + "\n";
  const auto at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(text.find(needle, at + 1), std::string::npos) << from;
  if (at != std::string::npos) text.replace(at + 1, from.size(), to);
  return text.substr(1);
}

TestEnv DefaultEnv() {
  TestEnv env;
  env.vars["SECRET_ONE"] = "s3cret-value";
  return env;
}

std::string ErrorOf(const std::string& yaml, const Env& env = DefaultEnv()) {
  Result<Options> r = ParseOptions(yaml, "cfg.yaml", env);
  if (r.ok()) return "(parsed)";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  return r.error().message;
}

TEST(ParseOptions, BaseConfigParses) {
  Result<Options> r = ParseOptions(kBase, "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->payers.at(0).auth.client_secret, "s3cret-value");
}

TEST(ParseOptions, FullConfigRoundTripsEveryField) {
  TestEnv env = DefaultEnv();
  env.vars["STATUS_TOKEN"] = "tok";
  std::string yaml =
      With("  listen: 127.0.0.1:8787", "  listen: 0.0.0.0:9000\n  token_env: STATUS_TOKEN");
  yaml = With("  path: /var/lib/p/state.db",
              "  path: /var/lib/p/state.db\n  migrations_dir: /usr/share/m", yaml);
  yaml = With("  kind: sqlite", "  kind: ndjson", yaml);
  yaml = With("  level: info",
              "  level: info\n  format: json\n  max_size: 1536K\n  max_files: 100\n"
              "  progress_interval: 0s",
              yaml);
  yaml = With("  migrations_dir: /usr/share/m", "  migrations_dir: /usr/share/m\n  retention: 0d",
              yaml);
  yaml = With("      method: client_secret_post", "      method: client_secret_basic", yaml);
  yaml = With("    trusted_hosts: [gateway.example]",
              "    trusted_hosts: [Gateway.Example, files.example]\n    allow_insecure_http: true",
              yaml);
  Result<Options> r = ParseOptions(yaml, "/etc/p2p/cfg.yaml", env);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Options& o = *r;
  EXPECT_EQ(o.config_path, "/etc/p2p/cfg.yaml");
  EXPECT_EQ(o.state.path, "/var/lib/p/state.db");
  EXPECT_EQ(o.state.migrations_dir, "/usr/share/m");
  EXPECT_EQ(o.state.retention, milliseconds(0));
  EXPECT_EQ(o.store.kind, StoreKind::kNdjson);
  EXPECT_EQ(o.store.path, "/var/lib/p/resources.db");
  EXPECT_EQ(o.log.dir, "/var/log/p");
  EXPECT_EQ(o.log.level, "info");
  EXPECT_EQ(o.log.format, LogFormat::kJson);
  EXPECT_EQ(o.log.max_size, 1536 * 1024);
  EXPECT_EQ(o.log.max_files, 100);
  EXPECT_EQ(o.log.progress_interval, milliseconds(0));
  EXPECT_EQ(o.status.listen, "0.0.0.0:9000");
  EXPECT_EQ(o.status.token_env, "STATUS_TOKEN");
  EXPECT_EQ(o.status.token, "tok");
  EXPECT_EQ(o.source.kind, "directory");
  EXPECT_EQ(o.source.path, "/var/lib/p/inbox");
  EXPECT_EQ(o.source.poll_interval, milliseconds(5000));
  ASSERT_EQ(o.payers.size(), 1u);
  const PayerOptions& p = o.payers[0];
  EXPECT_EQ(p.id, "bison");
  EXPECT_EQ(p.name, "Bison");
  EXPECT_EQ(p.base_url, "https://gateway.example/v1/bison");
  EXPECT_EQ(p.member_match_path, "/Patient/$member-match");
  EXPECT_EQ(p.export_path, "/Group/{group_id}/$export");
  EXPECT_EQ(p.auth.method, AuthMethod::kClientSecretBasic);
  EXPECT_EQ(p.auth.token_url, "https://auth.example/token");
  EXPECT_EQ(p.auth.client_id, "client-1");
  EXPECT_EQ(p.auth.client_secret_env, "SECRET_ONE");
  EXPECT_EQ(p.auth.client_secret, "s3cret-value");
  EXPECT_EQ(p.auth.scope, "member-match|read");
  EXPECT_EQ(p.trusted_hosts, (std::vector<std::string>{"gateway.example", "files.example"}));
  EXPECT_TRUE(p.allow_insecure_http);
  EXPECT_EQ(p.limits.concurrency, 4);
  EXPECT_EQ(p.limits.requests_per_second, 10.0);
  EXPECT_EQ(p.retry.max_attempts, 8);
  EXPECT_EQ(p.retry.base_delay, milliseconds(500));
  EXPECT_EQ(p.retry.max_delay, milliseconds(60'000));
  EXPECT_EQ(p.retry.give_up_after, milliseconds(24LL * 3600 * 1000));   // default
  EXPECT_EQ(p.limits.max_throttle_wait, milliseconds(15LL * 60 * 1000));  // default
  EXPECT_EQ(p.poll.min_interval, milliseconds(1000));
  EXPECT_EQ(p.poll.max_interval, milliseconds(60'000));
  EXPECT_EQ(p.poll.timeout, milliseconds(86'400'000));
  EXPECT_EQ(p.request_timeout, milliseconds(30'000));
}

TEST(ParseOptions, DefaultsForOptionalKeys) {
  const std::string yaml = R"(state: {path: /s.db}
store: {path: /r.db}
source: {path: /inbox}
payers:
  - id: p1
    base_url: https://Fhir.Example:8443/r4
    auth: {token_url: https://fhir.example/token, client_id: c, client_secret_env: SECRET_ONE}
)";
  Result<Options> r = ParseOptions(yaml, "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Options defaults;
  EXPECT_EQ(r->store.kind, StoreKind::kSqlite);
  EXPECT_EQ(r->log.dir, "");
  EXPECT_EQ(r->log.level, "info");
  EXPECT_EQ(r->log.format, LogFormat::kText);
  EXPECT_EQ(r->log.max_size, 10 * 1024 * 1024);
  EXPECT_EQ(r->log.max_files, 5);
  EXPECT_EQ(r->log.progress_interval, milliseconds(60'000));
  EXPECT_EQ(r->state.retention, milliseconds(90LL * 86'400'000));
  EXPECT_EQ(r->status.listen, "127.0.0.1:8787");
  EXPECT_EQ(r->status.token, "");
  EXPECT_EQ(r->source.poll_interval, milliseconds(5000));
  const PayerOptions& p = r->payers.at(0);
  EXPECT_EQ(p.name, "p1");
  EXPECT_EQ(p.member_match_path, "/Patient/$member-match");
  EXPECT_EQ(p.export_path, "/Group/{group_id}/$export");
  EXPECT_EQ(p.auth.method, AuthMethod::kClientSecretPost);
  EXPECT_EQ(p.trusted_hosts, std::vector<std::string>{"fhir.example"});
  EXPECT_EQ(p.limits.concurrency, 4);
  EXPECT_EQ(p.retry.max_attempts, 8);
  EXPECT_EQ(p.poll.timeout, milliseconds(86'400'000));
  EXPECT_EQ(p.request_timeout, milliseconds(30'000));
}

TEST(ParseOptions, RelativePathsAreRelativeToTheConfigFile) {
  std::string yaml = With("  path: /var/lib/p/state.db", "  path: state/state.db");
  yaml = With("  path: /var/lib/p/inbox", "  path: ../inbox", yaml);
  yaml = With("  dir: /var/log/p", "  dir: log", yaml);
  Result<Options> r = ParseOptions(yaml, "/etc/p2p/cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state.path, "/etc/p2p/state/state.db");
  EXPECT_EQ(r->source.path, "/etc/inbox");
  EXPECT_EQ(r->log.dir, "/etc/p2p/log");
  EXPECT_EQ(r->store.path, "/var/lib/p/resources.db");
}

struct Case {
  const char* from;
  const char* to;
  const char* error;
};

// One change to kBase, one exact message.
TEST(ParseOptions, ReportsEachBadKey) {
  const Case cases[] = {
      // missing keys: reported at the parent key's line
      {"  path: /var/lib/p/state.db", "  #", "cfg.yaml:1: state.path: is required"},
      {"  path: /var/lib/p/resources.db", "  #", "cfg.yaml:3: store.path: is required"},
      {"  path: /var/lib/p/inbox", "  #", "cfg.yaml:11: source.path: is required"},
      {"  - id: bison", "  - name0: x",
       "cfg.yaml:16: payers[0].name0: unknown key\n"
       "cfg.yaml:16: payers[0].id: is required"},
      {"    base_url: https://gateway.example/v1/bison", "    #",
       "cfg.yaml:16: payers[0].base_url: is required"},
      {"      client_id: client-1", "      #",
       "cfg.yaml:21: payers[0].auth.client_id: is required"},
      {"      token_url: https://auth.example/token", "      #",
       "cfg.yaml:21: payers[0].auth.token_url: is required"},
      {"      client_secret_env: SECRET_ONE", "      #",
       "cfg.yaml:21: payers[0].auth: one of client_secret_file, client_secret_env or "
       "client_secret_credential is required"},
      // enums and types
      {"  kind: sqlite", "  kind: mysql",
       "cfg.yaml:4: store.kind: must be sqlite, ndjson or postgres"},
      {"  level: info", "  level: verbose",
       "cfg.yaml:8: log.level: must be one of trace, debug, info, warn, error"},
      {"  level: info", "  level: [info]", "cfg.yaml:8: log.level: expected a string"},
      {"  kind: directory", "  kind: s3", "cfg.yaml:12: source.kind: must be directory"},
      {"  poll_interval: 5s", "  poll_interval: 5",
       "cfg.yaml:14: source.poll_interval: expected "
       "a duration such as 500ms, 10s, 5m, 24h or 1d"},
      {"  poll_interval: 5s", "  poll_interval: 0s",
       "cfg.yaml:14: source.poll_interval: must be greater than 0"},
      {"      method: client_secret_post", "      method: tls_client_auth",
       "cfg.yaml:22: payers[0].auth.method: must be client_secret_post, client_secret_basic or "
       "private_key_jwt"},
      {"      concurrency: 4", "      concurrency: abc",
       "cfg.yaml:29: payers[0].limits.concurrency: expected an integer"},
      {"      concurrency: 4", "      concurrency: 2.5",
       "cfg.yaml:29: payers[0].limits.concurrency: expected an integer"},
      {"      concurrency: 4", "      concurrency: {a: 1}",
       "cfg.yaml:29: payers[0].limits.concurrency: expected an integer"},
      {"      concurrency: 4", "      concurrency: 0",
       "cfg.yaml:29: payers[0].limits.concurrency: must be 1..256"},
      {"      concurrency: 4", "      concurrency: 257",
       "cfg.yaml:29: payers[0].limits.concurrency: must be 1..256"},
      {"      concurrency: 4", "      concurrency: 99999999999999999999",
       "cfg.yaml:29: payers[0].limits.concurrency: must be 1..256"},
      {"      requests_per_second: 10", "      requests_per_second: ten",
       "cfg.yaml:30: payers[0].limits.requests_per_second: expected a number"},
      {"      requests_per_second: 10", "      requests_per_second: 0",
       "cfg.yaml:30: payers[0].limits.requests_per_second: must be greater than 0 and at most "
       "10000"},
      {"      requests_per_second: 10", "      requests_per_second: 10000.5",
       "cfg.yaml:30: payers[0].limits.requests_per_second: must be greater than 0 and at most "
       "10000"},
      {"      requests_per_second: 10",
       "      requests_per_second: 10\n      max_throttle_wait: 500ms",
       "cfg.yaml:31: payers[0].limits.max_throttle_wait: must be 1s..24h"},
      {"      requests_per_second: 10", "      requests_per_second: 10\n      max_throttle_wait: 2d",
       "cfg.yaml:31: payers[0].limits.max_throttle_wait: must be 1s..24h"},
      {"      max_delay: 1m", "      max_delay: 1m\n      give_up_after: 0s",
       "cfg.yaml:35: payers[0].retry.give_up_after: must be greater than 0"},
      {"      max_attempts: 8", "      max_attempts: 0",
       "cfg.yaml:32: payers[0].retry.max_attempts: must be 1..100"},
      {"      max_attempts: 8", "      max_attempts: 101",
       "cfg.yaml:32: payers[0].retry.max_attempts: must be 1..100"},
      {"      base_delay: 500ms", "      base_delay: 2m",
       "cfg.yaml:33: payers[0].retry.base_delay: must not exceed retry.max_delay"},
      {"      max_delay: 1m", "      max_delay: soon",
       "cfg.yaml:34: payers[0].retry.max_delay: "
       "expected a duration such as 500ms, 10s, 5m, 24h or 1d"},
      {"      min_interval: 1s", "      min_interval: 2m",
       "cfg.yaml:36: payers[0].poll.min_interval: must not exceed poll.max_interval"},
      {"      min_interval: 1s", "      min_interval: 0ms",
       "cfg.yaml:36: payers[0].poll.min_interval: must be greater than 0"},
      {"      timeout: 24h", "      timeout: 0d",
       "cfg.yaml:38: payers[0].poll.timeout: must be greater than 0"},
      {"    request_timeout: 30s", "    request_timeout: 0s",
       "cfg.yaml:39: payers[0].request_timeout: must be greater than 0"},
      {"    request_timeout: 30s", "    request_timeout: [30s]",
       "cfg.yaml:39: payers[0].request_timeout: "
       "expected a duration such as 500ms, 10s, 5m, 24h or 1d"},
      // ids, URLs, paths, hosts
      {"  - id: bison", "  - id: bison!",
       "cfg.yaml:16: payers[0].id: must be 1 to 64 characters of "
       "A-Z, a-z, 0-9, _ and -"},
      {"    base_url: https://gateway.example/v1/bison", "    base_url: gateway.example/v1",
       "cfg.yaml:18: payers[0].base_url: must be an absolute http or https URL"},
      {"    base_url: https://gateway.example/v1/bison", "    base_url: ftp://gateway.example/v1",
       "cfg.yaml:18: payers[0].base_url: must be an absolute http or https URL"},
      {"    base_url: https://gateway.example/v1/bison",
       "    base_url: https://u:p@gateway.example/v1",
       "cfg.yaml:18: payers[0].base_url: must be an absolute http or https URL"},
      {"    base_url: https://gateway.example/v1/bison",
       "    base_url: https://gateway.example/v1/",
       "cfg.yaml:18: payers[0].base_url: must not end with /"},
      {"    base_url: https://gateway.example/v1/bison",
       "    base_url: https://gateway.example/v1?x=1",
       "cfg.yaml:18: payers[0].base_url: must not have a query or fragment"},
      {"    base_url: https://gateway.example/v1/bison", "    base_url: http://gateway.example/v1",
       "cfg.yaml:18: payers[0].base_url: plain http is allowed only to loopback hosts (set "
       "allow_insecure_http: true)"},
      {"    member_match_path: /Patient/$member-match",
       "    member_match_path: Patient/$member-match",
       "cfg.yaml:19: payers[0].member_match_path: must start with /"},
      {"    export_path: /Group/{group_id}/$export", "    export_path: /Group/$export",
       "cfg.yaml:20: payers[0].export_path: must contain {group_id}"},
      {"      token_url: https://auth.example/token", "      token_url: /token",
       "cfg.yaml:23: payers[0].auth.token_url: must be an absolute http or https URL"},
      {"    trusted_hosts: [gateway.example]", "    trusted_hosts: [https://gateway.example]",
       "cfg.yaml:27: payers[0].trusted_hosts[0]: must be a host name (no scheme, port or path)"},
      {"    trusted_hosts: [gateway.example]", "    trusted_hosts: gateway.example",
       "cfg.yaml:27: payers[0].trusted_hosts: expected a list"},
      // status
      {"  listen: 127.0.0.1:8787", "  listen: 8787",
       "cfg.yaml:10: status.listen: must be HOST:PORT (e.g. 127.0.0.1:8787) or off"},
      {"  listen: 127.0.0.1:8787", "  listen: 127.0.0.1:70000",
       "cfg.yaml:10: status.listen: must be HOST:PORT (e.g. 127.0.0.1:8787) or off"},
      {"  listen: 127.0.0.1:8787", "  listen: 0.0.0.0:8787",
       "cfg.yaml:9: status: a token is required when listen is not a loopback address: set "
       "token_file, token_env or token_credential"},
      {"  listen: 127.0.0.1:8787", "  listen: 127.0.0.1:8787\n  token: abc",
       "cfg.yaml:11: status.token: secrets are not allowed inline; use token_file, token_env or "
       "token_credential"},
      // secrets
      {"      client_secret_env: SECRET_ONE", "      client_secret_env: SECRET_TWO",
       "cfg.yaml:25: payers[0].auth.client_secret_env: SECRET_TWO is not set"},
      {"      client_secret_env: SECRET_ONE", "      client_secret_env: EMPTY",
       "cfg.yaml:25: payers[0].auth.client_secret_env: EMPTY is empty"},
      {"      client_secret_env: SECRET_ONE", "      client_secret_credential: bison",
       "cfg.yaml:25: payers[0].auth.client_secret_credential: CREDENTIALS_DIRECTORY is not set "
       "(LoadCredential= in the systemd unit sets it)"},
      {"      client_secret_env: SECRET_ONE", "      client_secret_credential: ../bison",
       "cfg.yaml:25: payers[0].auth.client_secret_credential: must be a credential name without /"},
      {"      client_secret_env: SECRET_ONE",
       "      client_secret_env: SECRET_ONE\n      client_secret_file: /etc/secret",
       "cfg.yaml:21: payers[0].auth: only one of client_secret_file, client_secret_env or "
       "client_secret_credential may be set"},
      // unknown keys at several depths
      {"state:", "stat:", "cfg.yaml:1: stat: unknown key\ncfg.yaml:1: state.path: is required"},
      {"  path: /var/lib/p/inbox", "  path: /var/lib/p/inbox\n  pattern: '*.csv'",
       "cfg.yaml:14: source.pattern: unknown key"},
      {"      scope: member-match|read", "      scopes: member-match|read",
       "cfg.yaml:26: payers[0].auth.scopes: unknown key"},
      {"      timeout: 24h", "      timeout: 24h\n      jitter: full",
       "cfg.yaml:39: payers[0].poll.jitter: unknown key"},
      {"  level: info", "  level: info\n  level: debug", "cfg.yaml:9: log.level: duplicate key"},
      // not YAML
      {"  level: info", "  level: [info", "cfg.yaml:9: yaml: end of sequence flow not found"},
  };
  TestEnv env = DefaultEnv();
  env.vars["EMPTY"] = "";
  for (const Case& c : cases) {
    EXPECT_EQ(ErrorOf(With(c.from, c.to), env), c.error) << c.from << " -> " << c.to;
  }
}

// The log.* and state.retention keys, added after line 8 (log.level) or line 2 (state.path).
TEST(ParseOptions, ReportsEachBadLogOrRetentionKey) {
  constexpr const char* kLevel = "  level: info";
  constexpr const char* kState = "  path: /var/lib/p/state.db";
  const std::string level = std::string(kLevel) + "\n";
  const std::string state = std::string(kState) + "\n";
  const std::pair<std::string, std::string> cases[] = {
      {level + "  format: xml", "cfg.yaml:9: log.format: must be text or json"},
      {level + "  format: JSON", "cfg.yaml:9: log.format: must be text or json"},
      {level + "  max_size: big",
       "cfg.yaml:9: log.max_size: expected a size such as 512K, 10M or 1G"},
      {level + "  max_size: 10MB",
       "cfg.yaml:9: log.max_size: expected a size such as 512K, 10M or 1G"},
      {level + "  max_size: -1M",
       "cfg.yaml:9: log.max_size: expected a size such as 512K, 10M or 1G"},
      {level + "  max_size: 1.5M",
       "cfg.yaml:9: log.max_size: expected a size such as 512K, 10M or 1G"},
      {level + "  max_size: M",
       "cfg.yaml:9: log.max_size: expected a size such as 512K, 10M or 1G"},
      {level + "  max_size: [1M]",
       "cfg.yaml:9: log.max_size: expected a size such as 512K, 10M or 1G"},
      {level + "  max_size: 1023K", "cfg.yaml:9: log.max_size: must be 1M..1G"},
      {level + "  max_size: 1048575", "cfg.yaml:9: log.max_size: must be 1M..1G"},
      {level + "  max_size: 1025M", "cfg.yaml:9: log.max_size: must be 1M..1G"},
      {level + "  max_size: 2G", "cfg.yaml:9: log.max_size: must be 1M..1G"},
      {level + "  max_size: 99999999999999999999G", "cfg.yaml:9: log.max_size: must be 1M..1G"},
      {level + "  max_size: 9000000000G", "cfg.yaml:9: log.max_size: must be 1M..1G"},
      {level + "  max_files: 0", "cfg.yaml:9: log.max_files: must be 1..100"},
      {level + "  max_files: 101", "cfg.yaml:9: log.max_files: must be 1..100"},
      {level + "  max_files: five", "cfg.yaml:9: log.max_files: expected an integer"},
      {level + "  progress_interval: 60",
       "cfg.yaml:9: log.progress_interval: expected a duration "
       "such as 500ms, 10s, 5m, 24h or 1d"},
      {level + "  progress_interval: 500ms",
       "cfg.yaml:9: log.progress_interval: must be 0 (off) or at least 1s"},
      {level + "  progress_interval: 1s\n  progress: 1m", "cfg.yaml:10: log.progress: unknown key"},
      {state + "  retention: forever",
       "cfg.yaml:3: state.retention: expected a duration such as "
       "500ms, 10s, 5m, 24h or 1d"},
      {state + "  retention: -1d",
       "cfg.yaml:3: state.retention: expected a duration such as "
       "500ms, 10s, 5m, 24h or 1d"},
  };
  for (const auto& [to, error] : cases) {
    const std::string from = to.rfind(kState, 0) == 0 ? kState : kLevel;
    EXPECT_EQ(ErrorOf(With(from, to)), error) << to;
  }
}

TEST(ParseOptions, AcceptsLogSizesAndIntervalsAtTheirLimits) {
  const std::pair<std::string, std::int64_t> sizes[] = {
      {"1M", 1 << 20},    {"1024K", 1 << 20}, {"1048576", 1 << 20}, {"1G", 1 << 30},
      {"1024M", 1 << 30}, {"10M", 10 << 20},  {"1536K", 1536 << 10}};
  for (const auto& [text, bytes] : sizes) {
    Result<Options> r = ParseOptions(With("  level: info", "  level: info\n  max_size: " + text),
                                     "cfg.yaml", DefaultEnv());
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().message;
    EXPECT_EQ(r->log.max_size, bytes) << text;
  }
  Result<Options> r =
      ParseOptions(With("  level: info", "  level: info\n  max_files: 1\n  progress_interval: 1s"),
                   "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->log.max_files, 1);
  EXPECT_EQ(r->log.progress_interval, milliseconds(1000));
  r = ParseOptions(
      With("  path: /var/lib/p/state.db", "  path: /var/lib/p/state.db\n  retention: 7d"),
      "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state.retention, milliseconds(7 * 86'400'000LL));
}

TEST(ParseOptions, InlineSecretIsRefusedWithoutEchoingIt) {
  const std::string message =
      ErrorOf(With("      client_secret_env: SECRET_ONE", "      client_secret: hunter2-value"));
  EXPECT_EQ(message,
            "cfg.yaml:21: payers[0].auth: one of client_secret_file, client_secret_env or "
            "client_secret_credential is required\n"
            "cfg.yaml:25: payers[0].auth.client_secret: secrets are not allowed inline; use "
            "client_secret_file, client_secret_env or client_secret_credential");
  EXPECT_EQ(message.find("hunter2"), std::string::npos);
}

TEST(ParseOptions, DuplicatePayerIds) {
  std::string yaml = kBase;
  const std::string payer = yaml.substr(yaml.find("  - id: bison"));
  yaml += payer;  // the second payer starts at line 40
  EXPECT_EQ(ErrorOf(yaml), "cfg.yaml:40: payers[1].id: duplicate of payers[0].id");
}

TEST(ParseOptions, ReportsEveryProblemAtOnceInLineOrder) {
  const std::string yaml = R"(state:
  paht: x
store:
  kind: csv
log:
  level: loud
source:
  path: /in
  poll_interval: never
payers:
  - id: "a b"
    base_url: http://x.example/
    auth:
      client_secret: nope
    limits:
      concurrency: -1
)";
  const std::string message = ErrorOf(yaml);
  EXPECT_EQ(
      message,
      "cfg.yaml:1: state.path: is required\n"
      "cfg.yaml:2: state.paht: unknown key\n"
      "cfg.yaml:3: store.path: is required\n"
      "cfg.yaml:4: store.kind: must be sqlite, ndjson or postgres\n"
      "cfg.yaml:6: log.level: must be one of trace, debug, info, warn, error\n"
      "cfg.yaml:9: source.poll_interval: expected a duration such as 500ms, 10s, 5m, 24h or 1d\n"
      "cfg.yaml:11: payers[0].id: must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -\n"
      "cfg.yaml:12: payers[0].base_url: must not end with /\n"
      "cfg.yaml:13: payers[0].auth.token_url: is required\n"
      "cfg.yaml:13: payers[0].auth.client_id: is required\n"
      "cfg.yaml:13: payers[0].auth: one of client_secret_file, client_secret_env or "
      "client_secret_credential is required\n"
      "cfg.yaml:14: payers[0].auth.client_secret: secrets are not allowed inline; use "
      "client_secret_file, client_secret_env or client_secret_credential\n"
      "cfg.yaml:16: payers[0].limits.concurrency: must be 1..256");
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n') + 1, 13);
}

TEST(ParseOptions, EmptyAndNonMappingDocuments) {
  EXPECT_EQ(ErrorOf(""), "cfg.yaml:1: expected a mapping of settings");
  EXPECT_EQ(ErrorOf("- a\n- b\n"), "cfg.yaml:1: expected a mapping of settings");
  EXPECT_EQ(ErrorOf("payers: []\n"),
            "cfg.yaml:1: state.path: is required\n"
            "cfg.yaml:1: store.path: is required\n"
            "cfg.yaml:1: source.path: is required\n"
            "cfg.yaml:1: payers: at least one payer is required");
}

TEST(ValidateOptions, IsPureAndNamesKeyPaths) {
  Options o;
  o.state.path = "/s";
  o.store.path = "/r";
  o.source.path = "/in";
  o.payers.resize(1);
  o.payers[0].id = "p";
  o.payers[0].base_url = "https://x.example";
  o.payers[0].auth.token_url = "https://x.example/token";
  o.payers[0].auth.client_id = "c";
  o.payers[0].auth.client_secret_env = "S";
  EXPECT_TRUE(ValidateOptions(o).empty());
  o.payers[0].limits.concurrency = 300;
  std::vector<ConfigProblem> problems = ValidateOptions(o);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "payers[0].limits.concurrency");
  EXPECT_EQ(problems[0].message, "must be 1..256");
  EXPECT_EQ(problems[0].line, 0);
}

// Secret files: real files in a temp dir.
class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "p2p-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string WithFile(const std::string& path) {
    return With("      client_secret_env: SECRET_ONE", "      client_secret_file: " + path);
  }
  fs::path dir_;
};

TEST_F(SecretFileTest, ReadsAPrivateFileWithoutItsTrailingNewline) {
  const std::string path = Write("secret", "file-secret\n", 0600);
  Result<Options> r = ParseOptions(WithFile(path), "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->payers[0].auth.client_secret, "file-secret");
  EXPECT_EQ(r->payers[0].auth.client_secret_file, path);
}

TEST_F(SecretFileTest, RefusesAGroupOrWorldReadableFile) {
  const std::string path = Write("secret", "file-secret\n", 0644);
  const std::string message = ErrorOf(WithFile(path));
  EXPECT_EQ(message, "cfg.yaml:25: payers[0].auth.client_secret_file: " + path +
                         ": is readable by group or others (chmod 600)");
  EXPECT_EQ(message.find("file-secret"), std::string::npos);
}

TEST_F(SecretFileTest, ReportsAMissingOrUnreadableFile) {
  const std::string missing = (dir_ / "nope").string();
  EXPECT_EQ(ErrorOf(WithFile(missing)), "cfg.yaml:25: payers[0].auth.client_secret_file: " +
                                            missing + ": cannot read: No such file or directory");
  if (::geteuid() != 0) {  // root reads anything
    const std::string locked = Write("locked", "x", 0000);
    EXPECT_EQ(ErrorOf(WithFile(locked)), "cfg.yaml:25: payers[0].auth.client_secret_file: " +
                                             locked + ": cannot read: Permission denied");
  }
  EXPECT_EQ(ErrorOf(WithFile(dir_.string())), "cfg.yaml:25: payers[0].auth.client_secret_file: " +
                                                  dir_.string() + ": is not a regular file");
}

TEST_F(SecretFileTest, RefusesAnEmptyFile) {
  const std::string path = Write("secret", "\n", 0600);
  EXPECT_EQ(ErrorOf(WithFile(path)),
            "cfg.yaml:25: payers[0].auth.client_secret_file: " + path + ": is empty");
}

TEST_F(SecretFileTest, ReadsASystemdCredential) {
  Write("bison", "cred-secret", 0400);
  TestEnv env = DefaultEnv();
  env.vars["CREDENTIALS_DIRECTORY"] = dir_.string();
  Result<Options> r = ParseOptions(
      With("      client_secret_env: SECRET_ONE", "      client_secret_credential: bison"),
      "cfg.yaml", env);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->payers[0].auth.client_secret, "cred-secret");
}

TEST_F(SecretFileTest, ReadsTheStatusTokenFromAFile) {
  const std::string path = Write("token", "status-token\n", 0600);
  Result<Options> r =
      ParseOptions(With("  listen: 127.0.0.1:8787", "  listen: '[::]:8787'\n  token_file: " + path),
                   "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status.token, "status-token");
}

TEST_F(SecretFileTest, LoadOptionsReadsTheFileAndPinsRelativePaths) {
  fs::create_directories(dir_ / "etc");
  const std::string path = (dir_ / "etc" / "p2p.yaml").string();
  std::ofstream(path) << With("  path: /var/lib/p/inbox", "  path: inbox");
  ::setenv("SECRET_ONE", "from-environment", 1);
  Result<Options> r = LoadOptions(path);
  ::unsetenv("SECRET_ONE");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source.path, (dir_ / "etc" / "inbox").string());
  EXPECT_EQ(r->payers[0].auth.client_secret, "from-environment");

  Result<Options> missing = LoadOptions((dir_ / "missing.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kIo);
  EXPECT_EQ(missing.error().message,
            (dir_ / "missing.yaml").string() + ": cannot read: No such file or directory");
}

TEST(DescribeOptions, SummarisesWithoutSecrets) {
  Result<Options> r = ParseOptions(kBase, "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(DescribeOptions(*r),
            "config: cfg.yaml\n"
            "self: identifier none\n"
            "state: /var/lib/p/state.db (retention 90d)\n"
            "store: sqlite /var/lib/p/resources.db\n"
            "log: /var/log/p (level info, text, 10M x 5 files, progress every 1m)\n"
            "status: 127.0.0.1:8787 (no token)\n"
            "source: directory /var/lib/p/inbox (every 5s)\n"
            "limits (all payers together): 512 jobs in flight, 64 requests, 32 downloads\n"
            "payers: 1\n"
            "  bison (Bison): https://gateway.example/v1/bison\n"
            "    identifier: none\n"
            "    member-match: /Patient/$member-match; export: /Group/{group_id}/$export\n"
            "    auth: client_secret_post at https://auth.example/token, client client-1, secret "
            "from env SECRET_ONE, scope member-match|read\n"
            "    trusted hosts: gateway.example\n"
            "    limits: 4 jobs, 10 requests/s, throttle waits up to 15m; retry: 8 attempts, "
            "500ms..1m, give up throttled after 1d; poll: 1s..1m, timeout 1d; request timeout "
            "30s\n");
}

TEST(DescribeOptions, ShowsLogFormatRotationProgressAndRetention) {
  std::string yaml = With("  dir: /var/log/p", "  format: json\n  progress_interval: 0s");
  yaml = With("  path: /var/lib/p/state.db", "  path: /var/lib/p/state.db\n  retention: 0d", yaml);
  Result<Options> r = ParseOptions(yaml, "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string text = DescribeOptions(*r);
  EXPECT_NE(text.find("state: /var/lib/p/state.db (retention off)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("log: stderr only (level info, json, progress off)\n"), std::string::npos)
      << text;
  yaml = With("  level: info",
              "  level: info\n  max_size: 1536K\n  max_files: 2\n"
              "  progress_interval: 30s");
  r = ParseOptions(yaml, "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(DescribeOptions(*r).find(
                "log: /var/log/p (level info, text, 1536K x 2 files, progress every 30s)\n"),
            std::string::npos);
}

// The shipped configs must stay valid.
std::string ShippedConfig(const std::string& name) {
  const char* root = std::getenv("P2P_SOURCE_DIR");
  const fs::path dir =
      root != nullptr ? fs::path(root) : fs::path(__FILE__).parent_path() / "../../..";
  std::ifstream in(dir / "config" / name);
  EXPECT_TRUE(in) << (dir / "config" / name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ShippedConfigs, DemoParses) {
  TestEnv env;
  env.vars["P2P_DEMO_CLIENT_SECRET"] = "sandbox-secret";
  Result<Options> r = ParseOptions(ShippedConfig("demo.yaml"), "/tmp/demo/demo.yaml", env);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->payers.size(), 1u);
  const PayerOptions& p = r->payers[0];
  EXPECT_EQ(p.id, "bison");
  EXPECT_EQ(p.base_url, "http://127.0.0.1:8080/v1/bison");
  EXPECT_EQ(p.member_match_path, "/member-match-sandbox/$member-match");
  EXPECT_EQ(p.export_path, "/bulk-data/r4/Group/{group_id}/$export");
  EXPECT_EQ(p.auth.client_id, "sandbox-client");
  EXPECT_EQ(p.auth.client_secret, "sandbox-secret");
  EXPECT_EQ(p.auth.scope, "member-match|read");
  EXPECT_EQ(r->state.path, "/tmp/demo/demo-run/state.db");
  EXPECT_FALSE(r->status.enabled());
}

TEST(ShippedConfigs, ExampleParses) {
  const fs::path creds = fs::temp_directory_path() / ("p2p-creds-" + std::to_string(::getpid()));
  fs::create_directories(creds);
  std::ofstream(creds / "client-secret") << "example-secret\n";
  fs::permissions(creds / "client-secret", fs::perms::owner_read);
  TestEnv env;
  env.vars["CREDENTIALS_DIRECTORY"] = creds.string();
  Result<Options> r =
      ParseOptions(ShippedConfig("example.yaml"), "/etc/p2p-ingest/p2p-ingest.yaml", env);
  fs::remove_all(creds);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const PayerOptions& p = r->payers.at(0);
  EXPECT_EQ(p.base_url, "https://gateway.1up.health/v1/bison");
  EXPECT_EQ(p.auth.token_url,
            "https://gateway.1up.health/auth/realms/dev-portal/protocol/openid-connect/token");
  EXPECT_EQ(p.trusted_hosts,
            (std::vector<std::string>{"gateway.1up.health", "gateway.1upcoredev.com"}));
  EXPECT_EQ(p.auth.client_secret, "example-secret");
  EXPECT_EQ(r->state.path, "/var/lib/p2p-ingest/state.db");
}

TEST(ParseOptions, DownloadAcceptGzipIsOnUnlessTurnedOff) {
  Result<Options> base = ParseOptions(kBase, "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(base.ok()) << base.error().message;
  EXPECT_TRUE(base->payers.at(0).download.accept_gzip);
  const std::string off = With("    trusted_hosts: [gateway.example]",
                               "    trusted_hosts: [gateway.example]\n    download:\n"
                               "      accept_gzip: false");
  Result<Options> r = ParseOptions(off, "cfg.yaml", DefaultEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->payers.at(0).download.accept_gzip);
}

}  // namespace
}  // namespace p2p
