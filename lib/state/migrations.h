// Schema migrations of the state DB: numbered SQL files from migrations/, embedded at build
// time, applied in order, each in its own transaction, recorded in schema_migrations.
#pragma once

#include "state/sql.h"

#include <string>
#include <vector>

#include "core/result.h"

namespace p2p::state {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// The migrations this binary carries, sorted by version.
const std::vector<Migration>& EmbeddedMigrations();

// Applies every migration newer than the database's version. Refuses (kInvalid) a database
// whose version is newer than the newest migration known: an older binary must not write to it.
// Returns the resulting version.
Result<int> ApplyMigrations(Conn* db, const std::vector<Migration>& migrations);

}  // namespace p2p::state
