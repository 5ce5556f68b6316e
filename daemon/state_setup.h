// Opening the job state the configuration names: the SQLite file (state.kind: sqlite, the
// default) or the PostgreSQL schema several daemons share (state.kind: postgres; connects and
// migrates, see state/postgres/pg_conn.h). Errors as StateDb::Open / OpenPostgres return them.
// Threading: call once at start.
#pragma once

#include <memory>

#include "config/options.h"
#include "core/result.h"
#include "state/state_db.h"

namespace p2p::daemon {

Result<std::unique_ptr<state::StateDb>> OpenStateDb(const StateOptions& options);

}  // namespace p2p::daemon
