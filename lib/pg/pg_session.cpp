#include "pg/pg_session.h"

#include <cstdlib>
#include <cstring>

namespace p2p::pg {
namespace {

// The first line of a libpq message, without its "ERROR:  " / "FATAL:  " prefix.
std::string FirstLine(const char* text) {
  std::string_view s = text != nullptr ? text : "";
  for (std::string_view prefix : {"ERROR:  ", "FATAL:  "}) {
    if (s.substr(0, prefix.size()) == prefix) s.remove_prefix(prefix.size());
  }
  const size_t nl = s.find('\n');
  if (nl != std::string_view::npos) s = s.substr(0, nl);
  return std::string(s.empty() ? "no message from the server" : s);
}

ErrorKind KindOfSqlState(std::string_view state) {
  if (state.substr(0, 2) == "08" || state == "57P01" || state == "57P02" || state == "57P03" ||
      state == "25006") {
    return ErrorKind::kUnavailable;
  }
  if (state == "53100") return ErrorKind::kDiskFull;
  if (state.substr(0, 2) == "28") return ErrorKind::kAuth;
  // Serialization failures and deadlocks: the transaction may simply be tried again.
  if (state == "40001" || state == "40P01") return ErrorKind::kBusy;
  if (state.substr(0, 2) == "22" || state == "42501" || state == "3F000")
    return ErrorKind::kInvalid;
  return ErrorKind::kIo;
}

}  // namespace

int64_t PgInt(const char* text) {
  if (text == nullptr) return 0;
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  return end != text && *end == '\0' ? static_cast<int64_t>(v) : 0;
}

std::string PgQualified(std::string_view schema, std::string_view name) {
  std::string out;
  out.reserve(schema.size() + name.size() + 5);
  out.append("\"").append(schema).append("\".\"").append(name).append("\"");
  return out;
}

PgSession::~PgSession() { Close(); }

void PgSession::Close() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

bool PgSession::connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

Result<void> PgSession::Connect(const std::string& dsn, const std::string& password,
                                std::string_view dsn_key) {
  Close();
  // Defaults first: the dsn (expanded from "dbname") overrides them, the password comes last.
  std::vector<const char*> keys = {"connect_timeout", "application_name", "keepalives_idle",
                                   "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                                   "dbname"};
  std::vector<const char*> values = {"10", "p2p-ingestd", "30", "10", "3", "30000",
                                     dsn.c_str()};
  if (!password.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (conn_ == nullptr) return MakeError(ErrorKind::kInternal, "out of memory connecting");
  if (PQstatus(conn_) == CONNECTION_OK) {
    // libpq prints the server's notices (CREATE ... IF NOT EXISTS "skipping" at every start) on
    // stderr by default: nothing the operator must see, and not through the daemon's log.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    return Ok();
  }
  const std::string why = FirstLine(PQerrorMessage(conn_));
  Close();
  // libpq reports refused passwords and unknown roles in its message only (no SQLSTATE).
  const bool auth = why.find("password authentication failed") != std::string::npos ||
                    why.find("no password supplied") != std::string::npos ||
                    why.find("does not exist") != std::string::npos ||
                    why.find("no pg_hba.conf entry") != std::string::npos;
  const bool bad_dsn = why.find("invalid") == 0 || why.find("missing \"=\"") != std::string::npos;
  if (bad_dsn) return MakeError(ErrorKind::kInvalid, std::string(dsn_key) + ": " + why);
  return MakeError(auth ? ErrorKind::kAuth : ErrorKind::kUnavailable,
                   std::string(auth ? "login refused: " : "server unreachable: ") + why);
}

Error PgSession::Classify(std::string_view what, const PGresult* res) const {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res != nullptr ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg = primary != nullptr ? std::string(primary)
                                       : FirstLine(conn_ != nullptr ? PQerrorMessage(conn_) : "");
  ErrorKind kind = state != nullptr ? KindOfSqlState(state) : ErrorKind::kIo;
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) kind = ErrorKind::kUnavailable;
  if (state != nullptr) msg += std::string(" (SQLSTATE ") + state + ")";
  if (kind == ErrorKind::kUnavailable) msg = "server unreachable: " + msg;
  return Error{kind, std::string(what) + ": " + msg, 0};
}

Result<PgResult> PgSession::Exec(std::string_view what, const std::string& sql,
                                 const std::vector<const char*>& params, ExecStatusType want) {
  if (conn_ == nullptr) return MakeError(ErrorKind::kUnavailable, "not connected to the server");
  PgResult res(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                            params.data(), nullptr, nullptr, 0));
  if (res && PQresultStatus(res.get()) == want) return res;
  return Classify(what, res.get());
}

Result<int> PgSession::PrepareSchema(const std::string& schema, const PgMigrations& m) {
  const std::string label(m.label);
  auto exists = Exec("schema lookup", "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                     {schema.c_str()}, PGRES_TUPLES_OK);
  if (!exists) return std::move(exists).error();
  const std::string lock =
      "SELECT pg_advisory_xact_lock(hashtext('p2p-" + label + "-migrations:' || $1))";
  if (PQntuples(exists->get()) == 0) {
    // Under the migrations' lock: of two concurrent CREATE SCHEMA IF NOT EXISTS, the second
    // fails on pg_namespace's unique index instead of skipping.
    Result<PgResult> made = Exec("begin", "BEGIN");
    if (made) made = Exec("migration lock", lock, {schema.c_str()}, PGRES_TUPLES_OK);
    if (made) made = Exec("create schema", "CREATE SCHEMA IF NOT EXISTS \"" + schema + "\"");
    if (made) made = Exec("commit", "COMMIT");
    if (!made) {
      PgResult rollback(PQexec(conn_, "ROLLBACK"));
      Error e = std::move(made).error();
      if (e.kind == ErrorKind::kInvalid) {
        e.message = std::string(m.schema_key) + " " + schema +
                    " does not exist and this role may not create it (CREATE SCHEMA " + schema +
                    " AUTHORIZATION <role>, as an administrator): " + e.message;
      }
      return e;
    }
  }
  auto priv = Exec("schema privilege",
                   "SELECT has_schema_privilege($1, 'CREATE'), has_schema_privilege($1, 'USAGE')",
                   {schema.c_str()}, PGRES_TUPLES_OK);
  if (!priv) return std::move(priv).error();
  if (std::strcmp(PQgetvalue(priv->get(), 0, 0), "t") != 0 ||
      std::strcmp(PQgetvalue(priv->get(), 0, 1), "t") != 0) {
    return MakeError(ErrorKind::kInvalid, "this role lacks CREATE or USAGE on schema " + schema +
                                              " (GRANT USAGE, CREATE ON SCHEMA " + schema +
                                              " TO <role>, or make the role its owner)");
  }
  const std::string versions = PgQualified(schema, "p2p_" + label + "_migrations");
  const auto& migrations = *m.list;
  const int newest = migrations.empty() ? 0 : migrations.back().version;
  int version = 0;
  // One transaction for the lock, the version table and the version check; then one per
  // migration (each takes the lock again and re-reads the version: another daemon may have
  // applied it meanwhile).
  for (size_t i = 0; i <= migrations.size(); ++i) {
    if (auto b = Exec("begin", "BEGIN"); !b) return std::move(b).error();
    auto fail = [&](Error e) -> Error {
      PgResult rollback(PQexec(conn_, "ROLLBACK"));
      return e;
    };
    if (auto l = Exec("migration lock", lock, {schema.c_str()}, PGRES_TUPLES_OK); !l) {
      return fail(std::move(l).error());
    }
    if (auto t = Exec("migration table", "CREATE TABLE IF NOT EXISTS " + versions +
                                             " (version integer PRIMARY KEY, name text NOT NULL,"
                                             " applied_at timestamptz NOT NULL DEFAULT now())");
        !t) {
      return fail(std::move(t).error());
    }
    auto v = Exec("migration version", "SELECT coalesce(max(version), 0) FROM " + versions, {},
                  PGRES_TUPLES_OK);
    if (!v) return fail(std::move(v).error());
    version = static_cast<int>(PgInt(PQgetvalue(v->get(), 0, 0)));
    if (version > newest) {
      std::string why = "schema " + schema;
      why.append(" is at ").append(label).append(" migration ").append(std::to_string(version));
      why.append(", newer than this binary's ").append(std::to_string(newest));
      return fail(MakeError(ErrorKind::kInvalid, why + ": refusing to write to it"));
    }
    const PgMigration* next = nullptr;
    for (const auto& mig : migrations) {
      if (mig.version > version) {
        next = &mig;
        break;
      }
    }
    if (next != nullptr) {
      const std::string path = "SET LOCAL search_path TO \"" + schema + "\"";
      if (auto s = Exec("migration search_path", path); !s) return fail(std::move(s).error());
      PgResult applied(PQexec(conn_, next->sql.c_str()));
      if (!applied || PQresultStatus(applied.get()) != PGRES_COMMAND_OK) {
        return fail(Classify(label + " migration " + next->name, applied.get()));
      }
      const std::string ver = std::to_string(next->version);
      if (auto r = Exec("migration record",
                        "INSERT INTO " + versions + " (version, name) VALUES ($1, $2)",
                        {ver.c_str(), next->name.c_str()});
          !r) {
        return fail(std::move(r).error());
      }
      version = next->version;
    }
    if (auto c = Exec("commit", "COMMIT"); !c) return std::move(c).error();
    if (next == nullptr) break;
  }
  return version;
}

}  // namespace p2p::pg
