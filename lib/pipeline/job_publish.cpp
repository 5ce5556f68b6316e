#include "pipeline/job_publish.h"

#include "state/store_marks_db.h"

namespace p2p::pipeline {

Result<void> JobPublisher::Publish(int64_t job_id) {
  published_job_ = 0;
  auto marks = store_.PublishJob(job_id);
  if (!marks) return std::move(marks).error();
  published_job_ = job_id;
  marks_ = std::move(*marks);
  return Ok();
}

Result<void> JobPublisher::Save(const state::Job& job, JobState previous, int64_t now_ms) {
  if (job.state != JobState::kComplete || previous == JobState::kComplete) {
    auto r = db_.SaveJob(job, previous, now_ms);
    if (!r || !IsTerminal(job.state) || job.state == previous) return r;
    return store_.EndJob(job.id, store::JobEnd::kDrop);
  }
  std::vector<state::StoreMarkRow> rows;
  if (published_job_ == job.id) {
    for (const store::StoreMark& m : marks_) {
      rows.push_back(state::StoreMarkRow{m.type, m.ndjson_end, m.index_end, m.deleted_end});
    }
  }
  published_job_ = 0;
  marks_.clear();
  auto r = state::SaveJobWithStoreMarks(db_, job, previous, rows, now_ms);
  if (!r) {
    (void)store_.EndJob(job.id, store::JobEnd::kTakeBack);  // the staging stays for a retry
    return r;
  }
  return store_.EndJob(job.id, store::JobEnd::kRecorded);
}

Result<void> JobPublisher::Drop(int64_t job_id) {
  if (published_job_ == job_id) published_job_ = 0;
  return store_.EndJob(job_id, store::JobEnd::kDrop);
}

}  // namespace p2p::pipeline
