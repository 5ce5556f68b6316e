// The daemon-wide pool of job slots (limits.max_jobs_in_flight) that every payer's dispatch loop
// draws from, so that the jobs in flight, and the memory they hold, are bounded by configuration
// and not by the number of payers. A job holds its slot while it runs a step (Scheduler::RunOne),
// waits for its payer's request rate and for request and download slots included. A payer's own
// limits.concurrency still applies: the scheduler asks for a slot only for a job its payer may
// start.
//
// Fairness: a payer that cannot get a slot waits in one queue with the deadline of its earliest
// runnable job. A freed slot goes to the waiting payer whose deadline is earliest, where waiting
// counts as an earlier deadline: every second waited moves a payer kAgingFactor seconds (an hour)
// forward, so a payer whose next job is due a week after the others' is served after at most
// 168 s of waiting. Equal places go to the payer that waited longest. A slot granted to a payer
// is reserved for it until its loop takes it (TryTake) or gives it back (Withdraw); it then waits
// again, behind the others, for its next job.
//
// The queue holds at most one place per payer. Pure logic, no I/O and no clock: times are
// passed in. Threading: one thread (the io_context's). `wake` callbacks are called after the
// state is updated, from inside Release(), Withdraw(), Wait() or SetCapacity(); they must not call
// back into the admission synchronously (the scheduler's cancels a timer).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <tuple>
#include <vector>

#include "metrics/metrics.h"

namespace p2p::pipeline {

class JobAdmission {
 public:
  // Milliseconds of deadline one millisecond of waiting is worth.
  static constexpr int64_t kAgingFactor = 3600;

  // `in_use` and `waiting` (may be null) mirror in_use() and waiting().
  explicit JobAdmission(int capacity, Gauge* in_use = nullptr, Gauge* waiting = nullptr);

  // Registers a payer; returns its number (0, 1, ...). `wake` is called when a slot was granted
  // to it while it waited.
  int AddPayer(std::function<void()> wake);

  // Takes a slot for `payer`: the one granted to it while it waited, or a free one when no payer
  // waits. False when there is none: the caller then calls Wait().
  bool TryTake(int payer);
  // `payer` has a runnable job due by `deadline_s` (unix seconds) and no slot: it waits, or, when
  // it already waits, keeps its place in time and updates its deadline. `now_ms` is when it
  // started waiting (used only when it did not wait yet).
  void Wait(int payer, int64_t deadline_s, int64_t now_ms);
  // `payer` wants no slot now (nothing runnable, throttled, stopping): it leaves the queue, and a
  // slot granted to it and not taken goes to the next payer.
  void Withdraw(int payer);
  // A slot taken with TryTake() is given back (the job's step ended).
  void Release();
  // limits.max_jobs_in_flight changed (SIGHUP). Lowered below in_use(): no slot is granted until
  // enough are released.
  void SetCapacity(int capacity);

  int capacity() const { return capacity_; }
  int in_use() const { return in_use_; }
  size_t waiting() const { return queue_.size(); }
  bool is_waiting(int payer) const { return payers_[static_cast<size_t>(payer)].waiting; }

 private:
  struct Payer {
    std::function<void()> wake;
    bool waiting = false;
    int64_t since_ms = 0;  // when it started waiting
    int64_t key = 0;       // its place: deadline (ms) + kAgingFactor * since_ms
    uint64_t seq = 0;      // ties: who waited first
    int granted = 0;       // slots granted and not yet taken
  };
  using Place = std::tuple<int64_t, uint64_t, int>;  // key, seq, payer

  int available() const { return capacity_ - in_use_ - reserved_; }
  // Grants free slots to the first payers in the queue and wakes them.
  void Grant();
  void Publish();

  int capacity_;
  int in_use_ = 0;
  int reserved_ = 0;  // granted, not yet taken
  uint64_t next_seq_ = 0;
  std::vector<Payer> payers_;
  std::set<Place> queue_;
  Gauge* in_use_gauge_;
  Gauge* waiting_gauge_;
};

}  // namespace p2p::pipeline
