#include "store/resource_store.h"

#include "store/ndjson_store.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace p2p::store {

Result<std::unique_ptr<ResourceStore>> ResourceStore::Open(const StoreOptions& options) {
  switch (options.kind) {
    case StoreKind::kSqlite: {
      auto s = SqliteStore::Open(options.path);
      if (!s) return std::move(s).error();
      return std::unique_ptr<ResourceStore>(std::move(*s));
    }
    case StoreKind::kNdjson: {
      auto s = NdjsonStore::Open(options.path);
      if (!s) return std::move(s).error();
      return std::unique_ptr<ResourceStore>(std::move(*s));
    }
    case StoreKind::kPostgres: {
      auto s = PostgresStore::Open(options);
      if (!s) return std::move(s).error();
      return std::unique_ptr<ResourceStore>(std::move(*s));
    }
  }
  return MakeError(ErrorKind::kInvalid, "unknown store kind");
}

}  // namespace p2p::store
