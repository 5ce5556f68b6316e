#include "store_setup.h"

#include "state/store_marks_db.h"

namespace p2p::daemon {

Result<std::unique_ptr<store::ResourceStore>> OpenStoreForWriting(const StoreOptions& options,
                                                                  state::StateDb& db) {
  auto opened = store::ResourceStore::Open(options);
  if (!opened) return std::move(opened).error();
  std::unique_ptr<store::ResourceStore> s = std::move(opened).value();
  if (auto r = s->LockExclusive(); !r) return std::move(r).error();
  auto rows = state::LoadStoreMarks(db);
  if (!rows) return std::move(rows).error();
  std::map<std::string, store::StoreMark> committed;
  for (const auto& [type, m] : *rows) {
    committed[type] = store::StoreMark{type, m.ndjson_end, m.index_end, m.deleted_end};
  }
  auto staging = state::JobsWithStagedLines(db);
  if (!staging) return std::move(staging).error();
  if (auto r = s->Recover(committed, *staging); !r) {
    return std::move(r).error().Context("recovery");
  }
  return s;
}

}  // namespace p2p::daemon
