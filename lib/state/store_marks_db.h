// The NDJSON store's committed marks in the state DB (tables store_marks and
// store_tombstone_marks; see store/resource_store.h StoreMark), recorded with the work they
// belong to: a job's completion (its published lines) or a compaction. Free functions over
// StateDb; each that writes is one transaction, and durable when it returns Ok (the WAL is
// synced: synchronous=FULL for that commit), because the store files it vouches for were
// rewritten or will lose their staging right after, and a rolled-back mark would then make
// Recover() cut data that nothing can bring back. Threading: as StateDb (one thread).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/job_state.h"
#include "core/result.h"
#include "state/state_db.h"

namespace p2p::state {

// One type's marks; -1 where this row does not say (that mark is left as it is).
struct StoreMarkRow {
  std::string type;
  int64_t ndjson_end = -1, index_end = -1, deleted_end = -1;
};

// Every committed mark by type (-1 where the type has none of that kind).
Result<std::map<std::string, StoreMarkRow>> LoadStoreMarks(StateDb& db);

// Upserts `marks` in one durable transaction.
Result<void> RecordStoreMarks(StateDb& db, const std::vector<StoreMarkRow>& marks);

// Saves `job` (StateDb::SaveJobInTransaction: row and transition event, same kCancelled rule)
// and upserts `marks` in one transaction, durable when `marks` is not empty.
Result<void> SaveJobWithStoreMarks(StateDb& db, const Job& job, JobState previous,
                                   const std::vector<StoreMarkRow>& marks, int64_t now_ms);

// Jobs whose staged store lines a restart must keep: those downloading (their files may be
// done, their publication not yet).
Result<std::set<int64_t>> JobsWithStagedLines(StateDb& db);

}  // namespace p2p::state
