// StateDb's cluster methods (state_db.h "cluster"): leases, fencing, heartbeats and the shared
// per-payer state of daemons sharing a PostgreSQL state (migrations/postgres-state/).
#include <string>
#include <vector>

#include "state/state_db.h"

namespace p2p::state {

namespace {

#define CL_TRY(expr)                                    \
  do {                                                  \
    auto cl_try_r = (expr);                             \
    if (!cl_try_r) return std::move(cl_try_r).error();  \
  } while (0)

// A payer's live leases, cluster-wide (members_leased).
constexpr const char* kLiveLeasesSql =
    "SELECT COUNT(*) FROM members WHERE payer=?1 AND lease_owner IS NOT NULL AND "
    "lease_until_ms>=?2 AND state<=5";
// The claim: runnable jobs without a live lease, earliest deadline first (members_runnable),
// leased in one statement. SKIP LOCKED: rows an operator's command or another claim holds are
// passed over, never waited for. The ids are taken as an array (an InitPlan, then one primary
// key lookup each): with `id IN (SELECT ...)` the generic plan of the prepared statement joined
// every row of members by hash (a sequential scan), as tests/postgres/state_query_plans_test.cpp
// showed. An UPDATE returns its rows in no particular order: they are sorted again so that the
// jobs start earliest deadline first. ?6 (comma-separated ids, "" for none): the jobs this
// process still runs, never claimed again while it does, not even after their lease was lost
// (the new lease would make a stale run's writes pass the fence).
constexpr const char* kClaimSql =
    "WITH taken AS (UPDATE members SET lease_owner=?4, lease_until_ms=?5, "
    "lease_epoch=lease_epoch+1 WHERE id = ANY(ARRAY(SELECT id FROM members WHERE payer=?1 AND "
    "state<=5 AND next_ms<=?2 AND (lease_owner IS NULL OR lease_until_ms<?2) AND "
    "id <> ALL(string_to_array(?6, ',')::bigint[]) ORDER BY deadline, id LIMIT ?3 "
    "FOR UPDATE SKIP LOCKED)) RETURNING id, lease_epoch, deadline) "
    "SELECT id, lease_epoch FROM taken ORDER BY deadline, id";

// An instance's live leases, extended (members_lease_owner). Only live ones: a lapsed one counts
// as free for every claim (kLiveLeasesSql), and other instances may have filled the payer's
// concurrency meanwhile. Reviving it would run one job more than limits.concurrency allows
// cluster-wide; the job stays claimable instead.
constexpr const char* kRenewSql =
    "UPDATE members SET lease_until_ms=?2 WHERE lease_owner=?1 AND lease_until_ms>=?3 "
    "RETURNING id, lease_epoch";

// This process's row in `instances`, made or renewed.
Result<void> Announce(Conn* db, const InstanceInfo& me, int64_t now_ms) {
  auto ins = Stmt::Prepare(
      db,
      "INSERT INTO instances(id, name, host, pid, version, started_ms, heartbeat_ms, lease_ms) "
      "VALUES (?1,?2,?3,?4,?5,?6,?6,?7) ON CONFLICT(id) DO UPDATE SET "
      "heartbeat_ms=excluded.heartbeat_ms, stopped_ms=NULL");
  if (!ins) return std::move(ins).error();
  return ins->Bind(1, me.token)
      .Bind(2, me.name)
      .Bind(3, me.host)
      .Bind(4, me.pid)
      .Bind(5, me.version)
      .Bind(6, now_ms)
      .Bind(7, me.lease_ms)
      .Run("announce instance");
}

}  // namespace

std::vector<std::string_view> StateDb::ClusterQueries() {
  return {kLiveLeasesSql, kClaimSql, kRenewSql};
}

Result<void> StateDb::JoinCluster(const InstanceInfo& me, const std::vector<std::string>& payers,
                                  int64_t now_ms) {
  me_ = me;
  if (!clustered()) return Ok();
  Transaction tx(db_);
  CL_TRY(tx.Begin());
  CL_TRY(Announce(db_, me, now_ms));
  // Instances gone for a day are forgotten (their leases lapsed long ago).
  auto old = Stmt::Prepare(db_, "DELETE FROM instances WHERE heartbeat_ms<?1");
  if (!old) return std::move(old).error();
  CL_TRY(old->Bind(1, now_ms - 24LL * 3600 * 1000).Run("forget old instances"));
  auto payer = Stmt::Prepare(
      db_, "INSERT INTO payer_cluster(payer) VALUES (?1) ON CONFLICT(payer) DO NOTHING");
  if (!payer) return std::move(payer).error();
  for (const std::string& p : payers) CL_TRY(payer->Bind(1, p).Run("payer cluster row"));
  return tx.Commit();
}

Result<void> StateDb::LeaveCluster(int64_t now_ms) {
  if (!clustered() || me_.token.empty()) return Ok();
  Transaction tx(db_);
  CL_TRY(tx.Begin());
  auto rel = Stmt::Prepare(
      db_, "UPDATE members SET lease_owner=NULL, lease_until_ms=0 WHERE lease_owner=?1");
  if (!rel) return std::move(rel).error();
  CL_TRY(rel->Bind(1, me_.token).Run("release leases"));
  auto stop = Stmt::Prepare(db_, "UPDATE instances SET stopped_ms=?2, heartbeat_ms=?2 WHERE id=?1");
  if (!stop) return std::move(stop).error();
  CL_TRY(stop->Bind(1, me_.token).Bind(2, now_ms).Run("instance stopped"));
  CL_TRY(tx.Commit());
  leases_.clear();
  return Ok();
}

Result<Claim> StateDb::ClaimRunnable(const std::string& payer, int64_t now_ms, int limit,
                                     int concurrency, int running) {
  Claim claim;
  if (!clustered()) {
    auto ids = Runnable(payer, now_ms, limit + running);
    if (!ids) return std::move(ids).error();
    claim.ids = std::move(ids).value();
    return claim;
  }
  if (limit <= 0) return claim;
  Transaction tx(db_);
  CL_TRY(tx.Begin());
  // Claims of one payer take turns on its row, so that counting the live leases and taking new
  // ones is one step for the whole cluster.
  auto lock = Stmt::Prepare(
      db_, "SELECT throttled_until_ms FROM payer_cluster WHERE payer=?1 FOR UPDATE");
  if (!lock) return std::move(lock).error();
  lock->Bind(1, payer);
  auto row = lock->Step("claim: payer row");
  if (!row) return std::move(row).error();
  if (*row) claim.throttled_until_ms = lock->Int(0);
  lock->Reset();
  if (claim.throttled_until_ms > now_ms) return claim;  // rolled back: nothing written
  claim.throttled_until_ms = 0;
  auto live = Stmt::Prepare(db_, kLiveLeasesSql);
  if (!live) return std::move(live).error();
  live->Bind(1, payer).Bind(2, now_ms);
  auto counted = live->Step("claim: live leases");
  if (!counted) return std::move(counted).error();
  claim.cluster_running = live->Int(0);
  live->Reset();
  const int64_t room = std::min<int64_t>(limit, concurrency - claim.cluster_running);
  if (room <= 0) return claim;
  auto take = Stmt::Prepare(db_, kClaimSql);
  if (!take) return std::move(take).error();
  std::string running_ids;
  for (const auto& [id, epoch] : leases_) {
    running_ids += (running_ids.empty() ? "" : ",") + std::to_string(id);
  }
  take->Bind(1, payer)
      .Bind(2, now_ms)
      .Bind(3, room)
      .Bind(4, me_.token)
      .Bind(5, now_ms + me_.lease_ms)
      .Bind(6, running_ids);
  std::vector<std::pair<int64_t, int64_t>> taken;
  for (;;) {
    auto r = take->Step("claim: lease jobs");
    if (!r) return std::move(r).error();
    if (!*r) break;
    taken.emplace_back(take->Int(0), take->Int(1));
  }
  take->Reset();
  CL_TRY(tx.Commit());
  for (const auto& [id, epoch] : taken) {
    leases_[id] = epoch;
    claim.ids.push_back(id);
  }
  return claim;
}

Result<void> StateDb::ReleaseLease(int64_t job_id) {
  auto it = leases_.find(job_id);
  if (it == leases_.end()) return Ok();
  const int64_t epoch = it->second;
  leases_.erase(it);
  if (epoch == kLost) return Ok();
  auto st = Stmt::Prepare(db_,
                          "UPDATE members SET lease_owner=NULL, lease_until_ms=0 WHERE id=?1 AND "
                          "lease_owner=?2 AND lease_epoch=?3");
  if (!st) return std::move(st).error();
  CL_TRY(st->Bind(1, job_id).Bind(2, me_.token).Bind(3, epoch).Run("release lease"));
  if (db_->Changes() == 0) {
    // Taken over between the run's last write and this release (this process was paused there):
    // nothing to give back, but a pause past the lease is worth a line.
    return MakeError(ErrorKind::kLeaseLost,
                     "job " + std::to_string(job_id) + ": its lease lapsed before its run gave "
                     "it back (another instance may run it now)");
  }
  return Ok();
}

Result<int64_t> StateDb::RenewLeases(int64_t now_ms) {
  if (!clustered() || me_.token.empty()) return int64_t{0};
  Transaction tx(db_);
  CL_TRY(tx.Begin());
  auto beat = Stmt::Prepare(db_, "UPDATE instances SET heartbeat_ms=?2 WHERE id=?1");
  if (!beat) return std::move(beat).error();
  CL_TRY(beat->Bind(1, me_.token).Bind(2, now_ms).Run("heartbeat"));
  if (db_->Changes() == 0) {
    // Forgotten (a day without heartbeat, or an operator): announce again.
    CL_TRY(Announce(db_, me_, now_ms));
  }
  auto renew = Stmt::Prepare(db_, kRenewSql);
  if (!renew) return std::move(renew).error();
  renew->Bind(1, me_.token).Bind(2, now_ms + me_.lease_ms).Bind(3, now_ms);
  std::map<int64_t, int64_t> held;
  for (;;) {
    auto r = renew->Step("renew leases");
    if (!r) return std::move(r).error();
    if (!*r) break;
    held[renew->Int(0)] = renew->Int(1);
  }
  renew->Reset();
  CL_TRY(tx.Commit());
  // A lease that lapsed (this one was paused past it), whether or not another instance took it
  // meanwhile, is marked lost: the job's next write fails (CheckLease) and the run stops.
  for (auto& [id, epoch] : leases_) {
    auto h = held.find(id);
    if (h == held.end() || h->second != epoch) epoch = kLost;
  }
  return leases_held();
}

Result<int64_t> StateDb::LiveInstances(int64_t now_ms) {
  if (!clustered()) return int64_t{1};
  auto st = Stmt::Prepare(db_,
                          "SELECT COUNT(*) FROM instances WHERE stopped_ms IS NULL AND "
                          "heartbeat_ms>=?1-lease_ms");
  if (!st) return std::move(st).error();
  st->Bind(1, now_ms);
  auto row = st->Step("live instances");
  if (!row) return std::move(row).error();
  return std::max<int64_t>(1, st->Int(0));
}

Result<void> StateDb::ShareThrottle(const std::string& payer, int64_t until_ms) {
  if (!clustered()) return Ok();
  auto st = Stmt::Prepare(db_,
                          "UPDATE payer_cluster SET throttled_until_ms=?2 WHERE payer=?1 AND "
                          "throttled_until_ms<?2");
  if (!st) return std::move(st).error();
  return st->Bind(1, payer).Bind(2, until_ms).Run("share throttling");
}

Result<void> StateDb::Notify(const std::string& payer) {
  if (!clustered()) return Ok();
  auto st = Stmt::Prepare(db_, "SELECT pg_notify(?1, ?2)");
  if (!st) return std::move(st).error();
  return st->Bind(1, std::string_view(kWakeChannel)).Bind(2, payer).Run("notify");
}

Result<void> StateDb::CompactCounters() {
  if (!clustered()) return Ok();
  // One statement per table: the DELETE takes the deltas its snapshot sees and the INSERT puts
  // back their sums, so a delta committed meanwhile is neither lost nor counted twice, and no
  // writer waits on it.
  static constexpr const char* kFold[] = {
      "WITH moved AS (DELETE FROM member_count_deltas RETURNING payer, state, n) "
      "INSERT INTO member_count_deltas(payer, state, n) SELECT payer, state, SUM(n) FROM moved "
      "GROUP BY payer, state HAVING SUM(n) <> 0",
      "WITH moved AS (DELETE FROM deadline_requested_deltas RETURNING payer, late, n) "
      "INSERT INTO deadline_requested_deltas(payer, late, n) SELECT payer, late, SUM(n) FROM "
      "moved GROUP BY payer, late HAVING SUM(n) <> 0",
      "WITH moved AS (DELETE FROM deadline_unrequested_deltas RETURNING payer, deadline, n) "
      "INSERT INTO deadline_unrequested_deltas(payer, deadline, n) SELECT payer, deadline, "
      "SUM(n) FROM moved GROUP BY payer, deadline HAVING SUM(n) <> 0"};
  for (const char* sql : kFold) CL_TRY(Exec(db_, sql, "fold counters"));
  return Ok();
}

Result<void> StateDb::CheckLease(int64_t job_id) {
  if (!clustered()) return Ok();
  auto it = leases_.find(job_id);
  if (it == leases_.end()) return Ok();  // not leased by this process (operator, intake)
  bool held = false;
  if (it->second != kLost) {
    auto st = Stmt::Prepare(db_,
                            "SELECT 1 FROM members WHERE id=?1 AND lease_owner=?2 AND "
                            "lease_epoch=?3 FOR SHARE");
    if (!st) return std::move(st).error();
    st->Bind(1, job_id).Bind(2, me_.token).Bind(3, it->second);
    auto row = st->Step("check lease");
    if (!row) return std::move(row).error();
    held = *row;
    st->Reset();
  }
  if (!held) {
    it->second = kLost;
    return MakeError(ErrorKind::kLeaseLost,
                     "job " + std::to_string(job_id) + ": its lease lapsed (another instance "
                     "may run it now); this instance stops it");
  }
  return Ok();
}

int64_t StateDb::leases_held() const {
  int64_t n = 0;
  for (const auto& [id, epoch] : leases_) n += epoch != kLost ? 1 : 0;
  return n;
}

void StateDb::ForgetLease(int64_t job_id) { leases_.erase(job_id); }

std::optional<LeaseRef> StateDb::LeaseOf(int64_t job_id) const {
  auto it = leases_.find(job_id);
  if (it == leases_.end() || it->second == kLost) return std::nullopt;
  return LeaseRef{me_.token, it->second};
}

std::vector<SqlStatement> StateDb::FileDoneStatements(const FileRow& file,
                                                      const std::vector<BadLine>& bad) const {
  std::vector<SqlStatement> out;
  const auto* pg = dynamic_cast<const PgConn*>(db_);
  if (pg == nullptr) return out;
  const std::string schema = "\"" + pg->options().schema + "\".";
  const std::string job = std::to_string(file.job_id), idx = std::to_string(file.idx);
  out.push_back({"UPDATE " + schema +
                     "files SET state=$3, lines=$4, stored=$5, bad_lines=$6, bytes=$7, "
                     "attempts=$8 WHERE job_id=$1 AND idx=$2",
                 {job, idx, std::to_string(static_cast<int>(file.state)),
                  std::to_string(file.lines), std::to_string(file.stored),
                  std::to_string(file.bad_lines), std::to_string(file.bytes),
                  std::to_string(file.attempts)}});
  for (const BadLine& b : bad) {
    out.push_back({"INSERT INTO " + schema +
                       "bad_lines(job_id, file_idx, line_no, reason) VALUES ($1,$2,$3,$4) "
                       "ON CONFLICT(job_id, file_idx, line_no) DO UPDATE SET reason=excluded.reason",
                   {job, idx, std::to_string(b.line_no), b.reason}});
  }
  return out;
}

}  // namespace p2p::state
