// The one options tree of p2p-ingestd, loaded and validated once from YAML (see config.h) and
// handed to each component by const reference. Every field documents its default.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace p2p {

using Millis = std::chrono::milliseconds;

struct StateOptions {
  std::string path;  // state.path (required): SQLite state DB, WAL mode, created 0600.
};

enum class StoreKind { kSqlite, kNdjson };

struct StoreOptions {
  StoreKind kind = StoreKind::kSqlite;  // store.kind: sqlite | ndjson
  std::string path;                     // store.path (required): DB file (sqlite) or directory (ndjson)
};

struct LogOptions {
  std::string dir;              // log.dir: rotating p2p-ingestd.log here; empty = stderr only
  std::string level = "info";   // log.level: trace|debug|info|warn|error
};

struct StatusOptions {
  std::string listen = "127.0.0.1:8787";  // status.listen: HOST:PORT; "" or "off" disables
  std::string token;                      // status.token_file/_env resolved: bearer for non-loopback binds
};

struct SourceOptions {
  std::string kind = "directory";   // source.kind: directory
  std::string path;                 // source.path (required): inbox; processed/ and rejected/ beside files
  Millis poll_interval{5000};       // source.poll_interval: how often the inbox is scanned (default 5s)
};

enum class AuthMethod { kClientSecretPost, kClientSecretBasic };

struct AuthOptions {
  AuthMethod method = AuthMethod::kClientSecretPost;  // auth.method
  std::string token_url;      // auth.token_url (required, absolute)
  std::string client_id;      // auth.client_id (required)
  std::string client_secret;  // resolved from auth.client_secret_file | client_secret_env; never printed
  std::string scope;          // auth.scope (optional), e.g. "member-match|read"
};

struct LimitsOptions {
  int concurrency = 4;                // limits.concurrency: jobs of this payer in flight, 1..256
  double requests_per_second = 10.0;  // limits.requests_per_second: token bucket, >0 .. 10000
};

struct RetryOptions {
  int max_attempts = 8;    // retry.max_attempts: per request step, 1..100
  Millis base_delay{500};  // retry.base_delay (default 500ms)
  Millis max_delay{60000}; // retry.max_delay (default 60s)
};

struct PollOptions {
  Millis min_interval{1000};           // poll.min_interval (default 1s)
  Millis max_interval{60000};          // poll.max_interval (default 60s)
  Millis timeout{24LL * 3600 * 1000};  // poll.timeout: job fails after this long polling (default 24h)
};

struct PayerOptions {
  std::string id;                 // payers[].id (required, unique, [A-Za-z0-9_-]{1,64})
  std::string name;               // payers[].name (display)
  std::string base_url;           // payers[].base_url (required, absolute http(s) URL, no trailing /)
  std::string member_match_path;  // payers[].member_match_path, relative to base_url
  std::string export_path;        // payers[].export_path, template containing {group_id}
  AuthOptions auth;
  std::vector<std::string> trusted_hosts;  // hosts that may get the token; default: base_url host + token_url host
  LimitsOptions limits;
  RetryOptions retry;
  PollOptions poll;
  Millis request_timeout{30000};  // payers[].request_timeout: per network phase (default 30s)
};

struct Options {
  std::string config_path;  // the file this was loaded from (for messages)
  StateOptions state;
  StoreOptions store;
  LogOptions log;
  StatusOptions status;
  SourceOptions source;
  std::vector<PayerOptions> payers;
};

}  // namespace p2p
