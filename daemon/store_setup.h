// Opening the resource store for writing, as `run` and `compact` do: the store is opened, its
// lock taken (ResourceStore::LockExclusive: kBusy while another process has it, e.g. a running
// daemon), and it is recovered to the state DB's committed marks, keeping the staged lines of
// the jobs still downloading (ResourceStore::Recover).
// Threading: call once at start, before anything else uses the store.
#pragma once

#include <memory>

#include "core/result.h"
#include "config/options.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::daemon {

Result<std::unique_ptr<store::ResourceStore>> OpenStoreForWriting(const StoreOptions& options,
                                                                  state::StateDb& db);

}  // namespace p2p::daemon
