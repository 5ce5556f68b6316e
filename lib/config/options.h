// The one options tree of p2p-ingestd, loaded and validated once from YAML (see config.h) and
// handed to each component by const reference. Every field documents its key and default; the
// full reference with ranges is README.md ("Configuration reference"). Relative paths are already
// resolved against the config file's directory when the tree comes out of LoadOptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace p2p {

using Millis = std::chrono::milliseconds;

enum class StateKind { kSqlite, kPostgres };

struct StateOptions {
  StateKind kind = StateKind::kSqlite;  // state.kind: sqlite | postgres
  std::string path;  // state.path (required for sqlite): SQLite state DB, WAL mode, created 0600.
  // state.kind postgres: state.dsn (required) is a libpq connection string without a password;
  // state.schema (default p2p_state) holds the job state every daemon of the cluster shares.
  std::string dsn;
  std::string schema = "p2p_state";
  // At most one, as for the store: the password of the dsn's role.
  std::string password_file;        // state.password_file
  std::string password_env;         // state.password_env
  std::string password_credential;  // state.password_credential
  std::string password;             // resolved; never printed
  // state.lease_timeout (default 30s, 5s..10m): a job an instance runs is leased to it for this
  // long and renewed every third of it; a daemon that dies loses its leases after this.
  Millis lease_timeout{30000};
  std::string migrations_dir;  // state.migrations_dir: empty = the built-in/packaged directory
  // state.retention (default 90d; 0 = keep everything): completed jobs older than this keep their
  // summary row and lose their per-file rows.
  Millis retention{90LL * 24 * 3600 * 1000};
};

enum class StoreKind { kSqlite, kNdjson, kPostgres };

struct StoreOptions {
  StoreKind kind = StoreKind::kSqlite;  // store.kind: sqlite | ndjson | postgres
  // store.path (required for sqlite and ndjson): DB file (sqlite) or directory (ndjson)
  std::string path;
  // store.kind postgres: store.dsn (required) is a libpq connection string (keywords or URI)
  // without a password; store.schema (default p2p) holds one table per resource type.
  std::string dsn;
  std::string schema = "p2p";
  // At most one: the password of the dsn's role (libpq's passfile / PGPASSFILE works too).
  std::string password_file;        // store.password_file: path, mode 0600 or stricter
  std::string password_env;         // store.password_env: environment variable name
  std::string password_credential;  // store.password_credential: systemd credential name
  std::string password;             // resolved from one of the above; never printed
  // store.full_retry_interval (default 30s): while the store is full, read-only or unreachable
  // (postgres), downloads stop and one is tried again this often; they resume by themselves
  // once a write succeeds.
  Millis full_retry_interval{30000};
  // Not a configuration key: set by the daemon when state.kind is postgres in the same database
  // (state.dsn equal to store.dsn): the schema of the job state, whose job leases the store
  // checks in its commit transactions, and whose "file done" rows it commits with the file's
  // rows (PostgresStore).
  std::string state_schema;
};

inline const char* StoreKindName(StoreKind kind) {
  switch (kind) {
    case StoreKind::kSqlite: return "sqlite";
    case StoreKind::kNdjson: return "ndjson";
    case StoreKind::kPostgres: return "postgres";
  }
  return "?";
}

// Where the store is, for logs and summaries: its path, or the dsn (which holds no password)
// and the schema.
inline std::string StoreLocation(const StoreOptions& store) {
  if (store.kind == StoreKind::kPostgres) return store.dsn + " (schema " + store.schema + ")";
  return store.path;
}

// Where the job state is, for logs and summaries: the SQLite file, or the dsn and the schema.
inline std::string StateLocation(const StateOptions& state) {
  if (state.kind == StateKind::kPostgres) return state.dsn + " (schema " + state.schema + ")";
  return state.path;
}

enum class LogFormat { kText, kJson };

struct LogOptions {
  std::string dir;             // log.dir: rotating p2p-ingestd.log here; empty = stderr only
  std::string level = "info";  // log.level: trace|debug|info|warn|error
  LogFormat format = LogFormat::kText;  // log.format: text | json (JSON lines, see logging.h)
  // log.max_size: bytes per file before rotation; YAML takes an integer with an optional K, M or
  // G suffix (powers of 1024). Default 10M, 1M..1G.
  std::int64_t max_size = 10LL * 1024 * 1024;
  int max_files = 5;  // log.max_files: rotated files kept besides the current one, 1..100
  // log.progress_interval: a progress line this often while work is in flight (default 60s;
  // 0 = off).
  Millis progress_interval{60000};
};

struct StatusOptions {
  std::string listen = "127.0.0.1:8787";  // status.listen: HOST:PORT; "" or "off" disables
  // Exactly one may be set; required when the listen host is not loopback (see config.h).
  std::string token_file;        // status.token_file: file holding the bearer token (mode 0600)
  std::string token_env;         // status.token_env: environment variable holding it
  std::string token_credential;  // status.token_credential: $CREDENTIALS_DIRECTORY/NAME
  std::string token;             // resolved from one of the above; empty = no token. Never printed.

  bool enabled() const { return !listen.empty() && listen != "off"; }
};

// CMS-0057-F deadline reporting (/status "deadlines", p2p_deadline_members, `p2p-ingestd status`).
struct DeadlineOptions {
  // deadline.at_risk_within (default 48h, 0..7d): a member not yet requested whose deadline is
  // this close (and not yet past) is reported "at risk".
  Millis at_risk_within{48LL * 3600 * 1000};
};

struct SourceOptions {
  std::string kind = "directory";  // source.kind: directory
  std::string path;  // source.path (required): inbox; processed/ and rejected/ beside files
  Millis poll_interval{5000};  // source.poll_interval: how often the inbox is scanned (default 5s)
};

// This daemon among several that share an inbox (or, later, a job state).
struct InstanceOptions {
  // instance.id (default: the host name, filled in by LoadOptions; [A-Za-z0-9_.-]{1,64}, not "."
  // or ".."): stable across restarts and unique among running daemons. Names this daemon's claim
  // directory source.path/claimed/<id>/ (source/directory_source.h).
  std::string id;
};

enum class AuthMethod { kClientSecretPost, kClientSecretBasic, kPrivateKeyJwt };

// JWS algorithm of a private_key_jwt client assertion (SMART Backend Services allows these two).
enum class JwtAlgorithm { kFromKey, kRs384, kEs384 };

struct AuthOptions {
  AuthMethod method = AuthMethod::kClientSecretPost;  // auth.method
  std::string token_url;  // auth.token_url (absolute); empty: discovered (see `discover`)
  std::string client_id;                              // auth.client_id (required)
  // Where the secret comes from: exactly one is set (a secret inline in the YAML is refused).
  std::string client_secret_file;        // auth.client_secret_file: path, mode 0600 or stricter
  std::string client_secret_env;         // auth.client_secret_env: environment variable name
  std::string client_secret_credential;  // auth.client_secret_credential: systemd credential name
  std::string client_secret;             // resolved from the source above; never printed or logged
  std::string scope;                     // auth.scope (optional), e.g. "member-match|read"
  // private_key_jwt (SMART Backend Services): the signing key comes from exactly one of these.
  std::string private_key_file;        // auth.private_key_file: PEM, mode 0600 or stricter
  std::string private_key_credential;  // auth.private_key_credential: systemd credential (PEM or JWK set)
  std::string jwks_file;               // auth.jwks_file: JWK set with private parts, mode 0600
  std::string private_key;             // resolved PEM or JWK set text; never printed or logged
  std::string key_id;                  // auth.key_id: JWS "kid" (default: the JWK's kid or thumbprint)
  JwtAlgorithm algorithm = JwtAlgorithm::kFromKey;  // auth.algorithm: RS384 | ES384 (default by key)
  std::string jku;                     // auth.jku (optional): JWS "jku" header, the client's JWKS URL
  // auth.discover (default false): read token_url from {base_url}/.well-known/smart-configuration.
  // Also used when token_url is omitted.
  bool discover = false;
};

struct LimitsOptions {
  int concurrency = 4;                // limits.concurrency: jobs of this payer in flight, 1..256
  double requests_per_second = 10.0;  // limits.requests_per_second: token bucket, >0 .. 10000
  // limits.max_throttle_wait (default 15m, 1s..24h): the longest single wait when the payer
  // throttles (429, or 503 with Retry-After); a longer Retry-After is clamped to it.
  Millis max_throttle_wait{15LL * 60 * 1000};
};

// Bounds over all payers together (the top-level `limits:`): what the daemon holds in memory
// grows with these, not with the number of payers. Each payer's limits (concurrency,
// requests_per_second) still hold within them. Payers waiting for a job slot are served earliest
// deadline first, a long wait counting as an earlier deadline, so that none starves
// (pipeline/admission.h); requests and downloads wait their turn first come, first served, and
// only once their payer's request rate lets them go. All three may change on SIGHUP.
struct GlobalLimitsOptions {
  // limits.max_jobs_in_flight (default 512, 1..10000): jobs of all payers in a step at once,
  // waiting for their payer's rate or a slot below included (a job waiting for its next poll or
  // a backoff holds none). Each holds its state (~10 KiB).
  int max_jobs_in_flight = 512;
  // limits.max_requests (default 64, 1..10000): requests to prior payers in flight at once,
  // downloads included. Each holds a connection and its buffers (~150 KiB).
  int max_requests = 64;
  // limits.max_downloads (default 32, 1..10000, <= max_requests): export files downloaded at
  // once. Each also holds a line checker and a store writer.
  int max_downloads = 32;
};

struct RetryOptions {
  int max_attempts = 8;     // retry.max_attempts: per request step, 1..100
  Millis base_delay{500};   // retry.base_delay (default 500ms), <= max_delay
  Millis max_delay{60000};  // retry.max_delay (default 60s)
  // retry.give_up_after (default 24h): how long a job waits out a throttling payer at one step
  // (match, kick-off, download) before it fails with class `throttled`. Polling's patience is
  // poll.timeout. Throttling answers never count toward max_attempts.
  Millis give_up_after{24LL * 3600 * 1000};
};

struct PollOptions {
  Millis min_interval{1000};   // poll.min_interval (default 1s), <= max_interval
  Millis max_interval{60000};  // poll.max_interval (default 60s)
  Millis timeout{24LL * 3600 *
                 1000};  // poll.timeout: job fails after this long polling (default 24h)
};

// export.operation: group-export (GET Group/{id}/$export, the seed), davinci-data-export (PDex:
// POST Group/{id}/$davinci-data-export with exportType payertopayer), patient-export (Bulk Data
// POST Patient/$export with patient= the $member-match answer's member identifier).
enum class ExportOperation { kGroupExport, kDavinciDataExport, kPatientExport };

struct ExportOptions {
  int max_rekicks = 3;  // export.max_rekicks: export reported failed -> kick off again, 0..100
  // export.max_expired_rekicks: files gone (404/410, expired) -> kick off again, 0..100
  int max_expired_rekicks = 10;
  // export.cancel_with_delete (default true): an operator's cancel sends the Bulk Data DELETE to
  // the job's status URL; false for payers that do not support it.
  bool cancel_with_delete = true;
  // export.operation: how the export is kicked off (pipeline/export_request.h).
  ExportOperation operation = ExportOperation::kGroupExport;
  // export.davinci_path: appended to base_url for davinci-data-export; must contain {group_id}.
  std::string davinci_path = "/Group/{group_id}/$davinci-data-export";
  // export.patient_path: appended to base_url for patient-export.
  std::string patient_path = "/Patient/$export";
  // export.types: resource types asked for (`_type`); empty = all the payer offers.
  std::vector<std::string> types;
  // export.type_filters: FHIR search queries `Type?param=value` (`_typeFilter`, one per entry).
  std::vector<std::string> type_filters;
};

// How members are matched. single: one HRex $member-match per member (the seed).
// bulk: Da Vinci PDex $bulk-member-match; a payer's waiting members go in batches (one async
// request each, polled like an export) and each batch's matched Group is exported once.
enum class MatchMode { kSingle, kBulk };

struct MatchOptions {
  MatchMode mode = MatchMode::kSingle;  // match.mode: single | bulk
  // match.bulk_path, appended to base_url: where $bulk-member-match is POSTed.
  std::string bulk_path = "/Group/$bulk-member-match";
  // match.batch_size (default 100, 1..1000): members per $bulk-member-match request. Larger
  // batches mean fewer requests and exports, but a bigger request and a later first member.
  int batch_size = 100;
  // match.batch_wait (default 30s, 0..24h): how long a batch waits to fill before it is sent
  // anyway; 0 sends each batch as soon as its first member joins.
  Millis batch_wait{30000};
};

// Downloads of a payer's export files.
struct DownloadOptions {
  // download.accept_gzip (default true): send `Accept-Encoding: gzip` for export files. Over the
  // internet gzip cuts the wire bytes ~10x for a little CPU; false asks for identity, for a payer
  // on the same host or LAN (loopback benchmarks) where compressing costs more than it saves.
  bool accept_gzip = true;
};

// TLS to one payer (base_url, token_url and trusted_hosts). Certificate and host-name
// verification are always on; these only add trust anchors and a client certificate.
struct PayerTlsOptions {
  std::string ca_file;      // tls.ca_file: extra CA bundle (PEM); default: the system store only
  std::string client_cert;  // tls.client_cert: PEM chain for mutual TLS (PDex 2.0); with client_key
  std::string client_key;   // tls.client_key: its private key, mode 0600 or stricter
  bool operator==(const PayerTlsOptions&) const = default;
};

// A health plan's business identifier (a FHIR Identifier), e.g. system
// "http://hl7.org/fhir/sid/us-npi" or a CMS / NAIC namespace, and the plan's number in it.
struct PlanIdentifier {
  std::string system;  // *.identifier.system: an absolute URI (scheme://...) or a urn:
  std::string value;   // *.identifier.value: non-empty
  bool empty() const { return system.empty() && value.empty(); }
  bool operator==(const PlanIdentifier&) const = default;
};

// Our own plan, the receiving payer: named in every $member-match Consent as the recipient.
struct SelfOptions {
  std::string name;           // self.name (display in the Consent; optional)
  PlanIdentifier identifier;  // self.identifier (optional; without it the Consent has no actors)
};

struct PayerOptions {
  std::string id;        // payers[].id (required, unique, [A-Za-z0-9_-]{1,64})
  std::string name;      // payers[].name (display; default: the id)
  // payers[].identifier: the prior payer's identifier, named in the Consent as the source
  // (optional; HRex STU 1.1 / PDex 2.1 payers refuse a Consent without it and self.identifier).
  PlanIdentifier identifier;
  std::string base_url;  // payers[].base_url (required, absolute http(s) URL, no trailing /)
  // payers[].member_match_path, appended to base_url.
  std::string member_match_path = "/Patient/$member-match";
  // payers[].export_path, appended to base_url; must contain {group_id}.
  std::string export_path = "/Group/{group_id}/$export";
  AuthOptions auth;
  // payers[].trusted_hosts: lower-case hosts that may receive the bearer token; default (also for
  // an empty list): the base_url host only.
  std::vector<std::string> trusted_hosts;
  // payers[].allow_insecure_http: plain http:// to a non-loopback host (default false: refused;
  // when true the daemon warns at every start).
  bool allow_insecure_http = false;
  PayerTlsOptions tls;  // payers[].tls
  LimitsOptions limits;
  RetryOptions retry;
  PollOptions poll;
  ExportOptions export_job;  // payers[].export
  DownloadOptions download;  // payers[].download
  MatchOptions match;        // payers[].match
  Millis request_timeout{30000};  // payers[].request_timeout: per network phase (default 30s)
};

// Concurrent-coverage refresh (pipeline/lifecycle.h).
struct RefreshOptions {
  // refresh.interval (default 90d, 1ms..366d): a complete job of a member whose source row says
  // `concurrent: true` is exported again this long after it completed, with _since = the last
  // manifest's transactionTime, until the member's consent or coverage ends. CMS-0057-F asks for
  // at least quarterly; tests use milliseconds.
  Millis interval{90LL * 24 * 3600 * 1000};
};

// consent.on_revocation: what a revocation (a source row with consent_revoked: true, or
// `p2p-ingestd cancel`) does to the member's resources already stored.
enum class RevocationAction { kKeep, kPurge };

struct ConsentOptions {
  // consent.on_revocation (default keep): keep leaves them; purge deletes that member's resources
  // of that payer from the store and records when and how many (`p2p-ingestd members show`).
  RevocationAction on_revocation = RevocationAction::kKeep;
};

struct Options {
  std::string config_path;  // the file this was loaded from (for messages)
  // Advice that does not stop the daemon, each "FILE:LINE: key: warning" (ParseOptions fills
  // it; `check-config` prints it, `run` logs it).
  std::vector<std::string> warnings;
  SelfOptions self;  // self
  InstanceOptions instance;
  StateOptions state;
  StoreOptions store;
  LogOptions log;
  StatusOptions status;
  DeadlineOptions deadline;
  SourceOptions source;
  RefreshOptions refresh;
  ConsentOptions consent;
  GlobalLimitsOptions limits;  // the top-level limits (payers[].limits are per payer)
  std::vector<PayerOptions> payers;
};

}  // namespace p2p
