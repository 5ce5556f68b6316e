// The cluster chaos run: ChaosOptions::instances daemons (`p2p-ingestd run`, instance ids a, b,
// c, ...; configurations identical but for instance.id and the log directory) share one
// PostgreSQL state (schema p2p_state, lease_timeout 5s) and store, one inbox and one sandbox
// injecting every fault kind (ChaosFaultSpec). The roster goes into the shared inbox; one daemon
// claims it by rename.
//
// Kills: at moments paced as in chaos_run.h, a random daemon is SIGKILLed and restarted at once
// (same instance id, a new process and lease owner); double_kill_percent of the kills take two
// daemons at once. After each kill the state says what the dead process was doing: its leased
// jobs by state (`phases`), `idle` when it held none, `startup` when it had not yet joined the
// cluster.
//
// Stops (ChaosOptions::stops, spread over the kills): the daemon running the job with the
// earliest deadline is SIGSTOPped until lease_timeout + 1 s have passed and another instance has
// leased one of its jobs (bounded wait), then SIGCONTinued. Such jobs are `taken_over`; the
// stopped daemon must find out at its next write (fencing) and say so in its log ("job N payer P:
// job N: its lease lapsed..."): each refusal found counts as `fenced`. Its other runs end too
// (refused: a lapsed lease is not renewed; or finished before it noticed); a run that does
// neither within 30 s is a `stale_run`.
//
// Concurrency across instances: the sandbox counts the payer's FHIR requests in flight
// (/admin/in-flight). A payer's limits.concurrency holds cluster-wide and each job has at most
// min(files_in_parallel = 4, concurrency) requests in flight, so the maximum may never exceed
// concurrency x that (`in_flight_bound`). A stopped daemon keeps its open requests open at the
// sandbox while its leases pass to the others: the window from its stop until it went on and
// ended the runs it lost is left out (the maximum is read at the stop, and reset once every run
// the stopped daemon had has ended, their requests with them). `in_flight_max_before` is the
// highest maximum of the windows that ended at a stop, `in_flight_max_after` the last window's, up
// to the end of the drain.
//
// Drain: the daemons keep running (no more kills) until every member is terminal, bounded by
// drain_timeout. Then, still running: no lease of a dead instance and none on a terminal job
// (`dead_leases`); after a clean stop (SIGTERM) of every daemon: no lease left (`leases_left`).
// Finally CompareWithCleanRun (chaos_run.h).
//
// Not thread-safe; blocks. Errors come back in ChaosFigures::error; no figure holds PHI.
#pragma once

#include "integration/chaos_run.h"

namespace p2p::testing {

// Requires o.pg and o.store "postgres".
ChaosFigures RunClusterChaos(const ChaosOptions& o);

// ExpectSurvived, and: double kills and stops done, a job taken over from a stopped daemon and
// every such job fenced, no stale run, "lease lapsed" said, the payer's requests in flight within
// the bound in both windows (and seen at all), no dead or leftover lease.
void ExpectClusterSurvived(const ChaosFigures& f, const ChaosOptions& o);

}  // namespace p2p::testing
