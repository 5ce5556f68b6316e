// PgSession: one libpq connection to PostgreSQL, shared by the PostgreSQL store (store.kind:
// postgres) and the PostgreSQL job state (state.kind: postgres), with what every user of it
// needs: connecting from a dsn plus the resolved password, applying an embedded migration
// sequence (migrations/postgres-store/ or migrations/postgres-state/, under an advisory lock so
// that daemons starting together do not race), checking the schema privilege, and turning libpq
// failures into Errors.
//
// Error classes (Classify): a connection that is gone or cannot be made (SQLSTATE class 08,
// 57P01..57P03 shutdown/cannot-connect-now, 25006 on a standby after a failover, or a bad
// connection status) -> kUnavailable: the store is unreachable, writes pause and are retried;
// 53100 disk_full -> kDiskFull; 28xxx (bad password, no such role) -> kAuth; 22xxx (data the
// server refuses, e.g. a number jsonb cannot hold), 42501 (a missing privilege) and 3F000 (no
// such schema) -> kInvalid; anything else kIo. Messages carry the server's
// primary message (first line) and SQLSTATE, never a row: the store's SQL sends data only as
// parameters or COPY data, which PostgreSQL does not quote in its errors, except for key values
// in unique violations, which cannot happen here (every write is an upsert).
//
// Threading: a session is used by one thread at a time. Blocking calls; connect_timeout and
// tcp_user_timeout bound how long a dead network can hold one.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace p2p::pg {

struct PgMigration {
  int version;
  std::string name;
  std::string sql;
};

// One embedded migration sequence and the names that go with it.
struct PgMigrations {
  const std::vector<PgMigration>* list;  // sorted by version
  std::string_view label;                // "store" or "state": lock, version table, messages
  std::string_view schema_key;           // "store.schema" / "state.schema", for messages
};

// A result that clears itself.
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

class PgSession {
 public:
  PgSession() = default;
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // Connects (closing any earlier connection). kUnavailable when the server cannot be reached,
  // kAuth when it refuses the role or password, kInvalid for a bad dsn (named by `dsn_key`).
  Result<void> Connect(const std::string& dsn, const std::string& password,
                       std::string_view dsn_key);
  // The schema, usable by this role: created when missing (needs CREATE on the database), then
  // every migration of `m` newer than the schema's applied, each in its own transaction under
  // pg_advisory_xact_lock (versions in p2p_<label>_migrations). kInvalid (naming the missing
  // privilege) when the role cannot create tables in it; kInvalid when the schema is newer than
  // this binary's migrations.
  Result<int> PrepareSchema(const std::string& schema, const PgMigrations& m);
  void Close();
  bool connected() const;
  PGconn* conn() const { return conn_; }

  // Runs `sql` with text parameters (nullptr entries are NULL). Expects `want` (PGRES_COMMAND_OK
  // or PGRES_TUPLES_OK); otherwise the classified error, prefixed with `what`.
  Result<PgResult> Exec(std::string_view what, const std::string& sql,
                        const std::vector<const char*>& params = {},
                        ExecStatusType want = PGRES_COMMAND_OK);
  // The error of `res` (or of the connection when `res` is null), classified (see above).
  Error Classify(std::string_view what, const PGresult* res) const;

 private:
  PGconn* conn_ = nullptr;
};

// A count or number PostgreSQL printed (PQgetvalue, PQcmdTuples); 0 when it is not one.
int64_t PgInt(const char* text);

// "schema"."name" with both parts double-quoted (names are checked before: no quotes inside).
std::string PgQualified(std::string_view schema, std::string_view name);

}  // namespace p2p::pg
