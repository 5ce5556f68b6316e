// The job-level side of the resource stores (store/resource_store.h "Job hooks"), for
// JobRunner: a job's staged lines (NDJSON store) join the store in the state DB commit that
// completes the job, and are dropped when the job is re-kicked, fails or is cancelled. So a
// reader of <Type>.ndjson sees each job's lines once, all at once; after a kill at any instant
// Recover() and the job's next run give the same result (a publication whose commit did not
// happen is cut back at the start and done again when the job completes).
//
//   Publish(job)           appends the staged lines (Finish, before anything is saved)
//   Save(job, prev, now)   every save of the job: a completion records Publish()'s marks in the
//                          same, durable, transaction; any other terminal state drops the staging
//   Drop(job)              a re-kick or an operator's cancel: the staging goes
//
// For the SQLite store all of this is nothing but StateDb::SaveJob. Threading: io_context thread
// only, no co_await between Publish and the Save that records it. Borrows `db` and `store`.
#pragma once

#include <cstdint>
#include <vector>

#include "core/job_state.h"
#include "core/result.h"
#include "state/state_db.h"
#include "store/resource_store.h"

namespace p2p::pipeline {

class JobPublisher {
 public:
  JobPublisher(state::StateDb& db, store::ResourceStore& store) : db_(db), store_(store) {}

  // Appends job `job_id`'s staged lines to the store; the next Save() of a completion records
  // them. Errors: the store's (kDiskFull for a full or read-only store: nothing changed, the job
  // may try again later; kIo).
  Result<void> Publish(int64_t job_id);

  // StateDb::SaveJob, and: `job` complete -> the marks of Publish() are recorded in the same
  // transaction (durable), then the staging goes; if that transaction fails (kCancelled: an
  // operator changed the job) the append is cut back. `job` in another terminal state -> its
  // staging goes after the save.
  Result<void> Save(const state::Job& job, JobState previous, int64_t now_ms);

  // Drops job `job_id`'s staged lines (a re-kick: the new export brings them again; a cancel).
  Result<void> Drop(int64_t job_id);

 private:
  state::StateDb& db_;
  store::ResourceStore& store_;
  int64_t published_job_ = 0;  // Publish() done, not yet recorded by Save()
  std::vector<store::StoreMark> marks_;
};

}  // namespace p2p::pipeline
