#include "state_setup.h"

namespace p2p::daemon {

Result<std::unique_ptr<state::StateDb>> OpenStateDb(const StateOptions& options) {
  if (options.kind == StateKind::kPostgres) {
    return state::StateDb::OpenPostgres({options.dsn, options.password, options.schema});
  }
  return state::StateDb::Open(options.path);
}

}  // namespace p2p::daemon
