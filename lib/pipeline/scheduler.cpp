#include "pipeline/scheduler.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <map>

#include "core/civil_date.h"
#include "pipeline/cluster_wake.h"
#include "pipeline/lifecycle.h"
#include "pipeline/member_intake.h"
#include "pipeline/member_record.h"

namespace p2p::pipeline {

namespace asio = boost::asio;

struct Scheduler::PayerLoop {
  explicit PayerLoop(asio::io_context& io, PayerClient& c) : client(c), wake(io) {}
  PayerClient& client;
  asio::steady_timer wake;
  std::set<int64_t> running;  // each holds a slot of admission_
  int admission = 0;          // the payer's number in admission_
  // The job it last waited for a slot with, and that job's deadline (one LoadJob per job).
  int64_t waiting_job = 0;
  int64_t waiting_deadline = 0;
  // Another instance of the cluster saw the payer throttle: no claims before this (unix ms).
  int64_t cluster_throttled_until_ms = 0;
};

namespace {

// How long a payer waiting for a job slot sleeps when nothing wakes it.
constexpr Millis kSlotWaitRecheck{5000};

asio::awaitable<void> WaitOn(asio::steady_timer& timer, Millis d) {
  timer.expires_after(d);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// Enough pooled keep-alive connections per host for every request the payers on it can have in
// flight (their jobs, each downloading files_in_parallel files): with the default of 8, a payer
// at concurrency 64 opened and closed a connection for most requests (measured: ~2.7 connects
// per member). Capped: the pool only keeps connections the payers already opened. Requests in
// flight are bounded over all payers by limits.max_requests, and so are the idle connections,
// which keep no buffers: neither grows with the number of payers.
http::ClientOptions PooledClientOptions(const Options& options, const PipelineLimits& limits,
                                        Metrics& metrics) {
  http::ClientOptions o;
  std::map<std::string, size_t> per_host;
  for (const PayerOptions& p : options.payers) {
    const size_t in_flight = static_cast<size_t>(p.limits.concurrency) *
                             static_cast<size_t>(std::max(limits.files_in_parallel, 1));
    auto url = Url::Parse(p.base_url);
    size_t& on_host = per_host[url ? url->Authority() : p.base_url];
    on_host += in_flight;
    o.max_idle_per_host = std::max(o.max_idle_per_host, std::min<size_t>(on_host, 256));
  }
  o.max_in_flight = options.limits.max_requests;
  o.on_in_flight = [g = &metrics.GetGauge(metric::kRequestsInFlight)](int n) { g->Set(n); };
  o.max_idle_total = static_cast<size_t>(options.limits.max_requests);
  o.max_idle_per_host = std::min(o.max_idle_per_host, o.max_idle_total);
  return o;
}

}  // namespace

Scheduler::Scheduler(asio::io_context& io, const Options& options, state::StateDb& db,
                     store::ResourceStore& store, source::DirectorySource& source,
                     Metrics& metrics, const PipelineLimits& limits)
    : io_(io),
      options_(options),
      db_(db),
      store_(store),
      source_(source),
      limits_(limits),
      http_(io, PooledClientOptions(options, limits, metrics)),
      rng_(std::random_device{}()),
      admission_(options.limits.max_jobs_in_flight, &metrics.GetGauge(metric::kJobsInFlight),
                 &metrics.GetGauge(metric::kPayersWaiting)),
      downloads_(options.limits.max_downloads,
                 [g = &metrics.GetGauge(metric::kDownloadsInFlight)](int n) { g->Set(n); }),
      runner_(db, store, limits_, stopping_, counters_, &metrics, &downloads_),
      intake_timer_(io),
      lease_timer_(io),
      leases_gauge_(metrics.GetGauge(metric::kInstanceLeases, {})),
      instances_gauge_(metrics.GetGauge(metric::kClusterInstances, {})) {
  limits_.disk_full_wait = options_.store.full_retry_interval;
  limits_.refresh_interval = options_.refresh.interval;
  limits_.self = {options_.self.name, options_.self.identifier.system,
                  options_.self.identifier.value};
  for (const PayerOptions& p : options_.payers) {
    payers_.push_back(std::make_unique<PayerClient>(http_, p, [this] {
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    }, metrics));
    loops_.push_back(std::make_unique<PayerLoop>(io_, *payers_.back()));
    PayerLoop* loop = loops_.back().get();
    // A payer throttled, recovered or refusing our credentials, or granted a job slot: its loop
    // looks again; the other instances of a cluster hold a throttling payer back too.
    payers_.back()->SetOnChange([this, loop] {
      loop->wake.cancel();
      const int64_t until = loop->client.throttled_until_ms();
      if (until > NowMs()) {
        if (auto r = db_.ShareThrottle(loop->client.id(), until); !r) {
          spdlog::warn("payer {}: sharing its throttling with the cluster: {}", loop->client.id(),
                       r.error().message);
        }
      }
    });
    loop->admission = admission_.AddPayer([loop] { loop->wake.cancel(); });
  }
}

Scheduler::~Scheduler() = default;

void Scheduler::Stop() {
  stopping_.store(true);
  intake_timer_.cancel();
  downloads_.Close();
  WakeAll();
}

void Scheduler::Reconfigured() {
  admission_.SetCapacity(options_.limits.max_jobs_in_flight);
  http_.SetMaxInFlight(options_.limits.max_requests);
  downloads_.SetCapacity(options_.limits.max_downloads);
  for (auto& p : payers_) {
    p->Reconfigure();
    if (p->auth_rejected()) {
      // Perhaps corrected credentials: the jobs waiting for them try at once.
      auto woken = db_.WakeWaiting(p->id(), ErrorKindName(ErrorKind::kAuth), NowMs());
      if (!woken) spdlog::error("payer {}: {}", p->id(), woken.error().message);
    }
  }
  WakeAll();
}

std::vector<std::pair<std::string, std::string>> Scheduler::AuthRejected() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : payers_) {
    if (p->auth_rejected()) out.emplace_back(p->id(), p->auth_error());
  }
  return out;
}

void Scheduler::WakeAll() {
  for (auto& l : loops_) l->wake.cancel();
}

void Scheduler::Wake(const std::string& payer) {
  for (auto& l : loops_) {
    if (payer.empty() || l->client.id() == payer) l->wake.cancel();
  }
}

Result<void> Scheduler::Intake() {
  const int64_t taken_before = intake_.rows_taken;
  auto files = source_.ListReady();
  if (!files) return std::move(files).error();
  for (const auto& file : *files) {
    const std::string name = file.filename().string();
    // A file that cannot be read is left in the inbox (and retried on the next scan).
    if (auto readable = source_.Identify(file); !readable) {
      spdlog::error("source: {}: {}", name, readable.error().message);
      continue;
    }
    auto taken = TakeInFile(db_, source_, file, options_.consent, NowMs());
    if (!taken) return std::move(taken).error();
    const state::IntakeCounts& counts = taken->counts;
    intake_.files += 1;
    intake_.rows_taken += counts.inserted;
    intake_.rows_already_known += counts.already_known;
    intake_.rows_rejected += static_cast<int64_t>(taken->problems);
    if (taken->problems == 0) {
      spdlog::info("source: {}: {} members taken in, {} already known", name, counts.inserted,
                   counts.already_known);
    } else {
      spdlog::warn("source: {}: {} members taken in, {} already known, {} problems (see {}/{}.errors)",
                   name, counts.inserted, counts.already_known, taken->problems,
                   source_.rejected_dir().string(), name);
    }
  }
  if (intake_.rows_taken > taken_before) {
    // New members: the other instances of a cluster may start them too.
    if (auto n = db_.Notify(""); !n) spdlog::warn("cluster: wake-up: {}", n.error().message);
  }
  WakeAll();
  return Ok();
}

asio::awaitable<void> Scheduler::RunOne(PayerLoop& loop, int64_t job_id) {
  auto r = co_await runner_.Run(job_id, loop.client);
  // Its run is over (it waits, or is terminal): another instance may take it when it is due.
  if (r) r = db_.ReleaseLease(job_id);
  if (!r && r.error().kind == ErrorKind::kLeaseLost) {
    // Paused past the lease after the run's last write: the run is over all the same.
    spdlog::warn("job {} payer {}: {}", job_id, loop.client.id(), r.error().message);
    r = Ok();
  }
  if (!r) {
    spdlog::critical("job {} payer {}: local failure, stopping: {}", job_id, loop.client.id(),
                     r.error().message);
    if (!fatal_) fatal_ = r.error();
    Stop();
  }
  loop.running.erase(job_id);
  admission_.Release();
  // A payer waiting for a slot of limits.max_jobs_in_flight can start nothing until one is
  // granted to it, which wakes it: no need to go round now.
  if (!admission_.is_waiting(loop.admission) || stopping_.load()) loop.wake.cancel();
}

asio::awaitable<void> Scheduler::CancelOne(PayerLoop& loop, int64_t job_id, std::string url) {
  auto r = co_await runner_.CancelExport(job_id, std::move(url), loop.client);
  if (!r) {
    spdlog::critical("job {} payer {}: local failure, stopping: {}", job_id, loop.client.id(),
                     r.error().message);
    if (!fatal_) fatal_ = r.error();
    Stop();
  }
  loop.running.erase(job_id);
  admission_.Release();
  // A payer waiting for a slot of limits.max_jobs_in_flight can start nothing until one is
  // granted to it, which wakes it: no need to go round now.
  if (!admission_.is_waiting(loop.admission) || stopping_.load()) loop.wake.cancel();
}

Result<bool> Scheduler::Admit(PayerLoop& loop, int64_t job_id) {
  if (admission_.TryTake(loop.admission)) return true;
  if (loop.waiting_job != job_id) {
    auto job = db_.LoadJob(job_id);
    if (!job) return std::move(job).error();
    loop.waiting_job = job_id;
    loop.waiting_deadline = job->deadline;
  }
  admission_.Wait(loop.admission, loop.waiting_deadline, NowMs());
  return admission_.TryTake(loop.admission);  // granted at once (a slot was free)
}

asio::awaitable<Result<void>> Scheduler::Dispatch(PayerLoop& loop, bool once) {
  const int64_t started_ms = NowMs();  // --once starts only the refreshes due by then
  for (;;) {
    const int concurrency = loop.client.options().limits.concurrency;  // may change on SIGHUP
    if (stopping_.load() && loop.running.empty()) break;
    const int64_t now = NowMs();
    // A throttling payer's jobs wait until it is due again, then one probes (PayerClient).
    const bool held_back =
        loop.client.held_back(now) || loop.cluster_throttled_until_ms > now;
    // A payer whose requests already wait for its requests_per_second starts no further job
    // until they are sent: the job would only wait too, holding a slot of
    // limits.max_jobs_in_flight that another payer could use.
    const Millis backlog = loop.client.rate_backlog();
    bool wants_slot = false;  // waiting for a slot of admission_ (limits.max_jobs_in_flight)
    if (!stopping_.load()) {
      // Jobs an operator cancelled while their export ran: cancel the export at the payer (once
      // it takes requests again).
      using Cancels = std::vector<std::pair<int64_t, std::string>>;
      auto cancels = held_back ? Result<Cancels>(Cancels{})
                               : PendingExportCancels(db_, loop.client.id(), concurrency);
      if (!cancels) co_return std::move(cancels).error();
      for (auto& [id, url] : *cancels) {
        if (loop.running.count(id) != 0) continue;
        auto admitted = Admit(loop, id);
        if (!admitted) co_return std::move(admitted).error();
        if (!*admitted) {
          wants_slot = true;
          break;
        }
        loop.running.insert(id);
        asio::co_spawn(io_, CancelOne(loop, id, std::move(url)), asio::detached);
      }
      // Member lifecycle (pipeline/lifecycle.h): purges after revocations, due refreshes.
      auto purged = lifecycle::ApplyPurges(db_, store_, loop.client.id(), loop.running,
                                           concurrency, now);
      if (!purged) co_return std::move(purged).error();
      auto refreshed = lifecycle::StartDueRefreshes(db_, loop.client.id(),
                                                    once ? started_ms : now, concurrency);
      if (!refreshed) co_return std::move(refreshed).error();
    }
    // run --once does not wait for credentials that only an operator can fix.
    const bool rejected = once && loop.client.auth_rejected();
    if (!stopping_.load() && !held_back && !rejected && !wants_slot && backlog.count() == 0) {
      int free = concurrency - static_cast<int>(loop.running.size());
      if (free > 0) {
        // Leased to this instance with the PostgreSQL state (the payer's concurrency holds for
        // the whole cluster); with SQLite simply the runnable ones. Earliest deadline first.
        auto claim = db_.ClaimRunnable(loop.client.id(), now, free, concurrency,
                                       static_cast<int>(loop.running.size()));
        if (!claim) co_return std::move(claim).error();
        loop.cluster_throttled_until_ms = claim->throttled_until_ms;
        std::vector<int64_t> unstarted;  // claimed, but no slot of admission_ for them now
        for (int64_t id : claim->ids) {
          if (wants_slot || free == 0) {
            unstarted.push_back(id);
            continue;
          }
          if (loop.running.count(id) != 0) continue;
          auto admitted = Admit(loop, id);
          if (!admitted) co_return std::move(admitted).error();
          if (!*admitted) {
            wants_slot = true;
            unstarted.push_back(id);
            continue;
          }
          loop.running.insert(id);
          --free;
          asio::co_spawn(io_, RunOne(loop, id), asio::detached);
        }
        // A lease claimed for a job that found no slot goes back at once: another instance (or
        // this one, when its slot comes) takes it.
        for (int64_t id : unstarted) {
          auto r = db_.ReleaseLease(id);
          // Lost meanwhile (this process was paused): the job is another instance's now.
          if (!r && r.error().kind != ErrorKind::kLeaseLost) co_return std::move(r).error();
        }
      }
    }
    if (wants_slot) {
      // The grant wakes this loop, and so do new members, a job of the payer ending, a reload
      // and Stop(); it looks again now and then for an operator's cancels and purges.
      co_await WaitOn(loop.wake, kSlotWaitRecheck);
      continue;
    }
    // Not waiting for a slot (nothing to start, throttled, stopping): leave the queue, and pass
    // on a slot granted meanwhile.
    admission_.Withdraw(loop.admission);
    auto wake = db_.NextWake(loop.client.id());
    if (!wake) co_return std::move(wake).error();
    if (rejected && loop.running.empty()) {
      spdlog::error("payer {}: run --once stops this payer: the token endpoint rejects our "
                    "credentials ({})", loop.client.id(), loop.client.auth_error());
      break;
    }
    bool idle = once && loop.running.empty();  // nothing left to do...
    if (idle && wake->has_value()) {  // ...but jobs waiting for their consent period
      auto waits = lifecycle::OnlyConsentWaits(db_, loop.client.id(), now);
      if (!waits) co_return std::move(waits).error();
      idle = *waits;
    }
    if (idle) break;
    // Every job due at `now` that is not running was just started, unless every slot is taken
    // (a finishing job cancels loop.wake). So the next reason to go round is the first job due
    // after `now`. (Going round at once whenever MIN(next_ms) <= now, as before, spun this loop
    // all the time a job ran: running jobs keep a next_ms in the past.)
    auto due = db_.NextDue(loop.client.id(), now);
    if (!due) co_return std::move(due).error();
    Millis delay{1000};
    if (due->has_value()) {
      delay = std::min(delay, Millis(std::max<int64_t>(0, **due - NowMs())));
    }
    if (held_back) {
      // Due jobs stay due while the payer is held back: sleep until it is due again (or until
      // the probe's answer, which wakes this loop).
      const int64_t until =
          std::max(loop.client.throttled_until_ms(), loop.cluster_throttled_until_ms);
      delay = held_back && until > NowMs()
                  ? std::min(Millis(1000), Millis(until - NowMs()))
                  : Millis(1000);
    }
    if (delay.count() > 0 || !loop.running.empty()) co_await WaitOn(loop.wake, delay);
  }
  admission_.Withdraw(loop.admission);
  co_return Ok();
}

state::InstanceInfo Scheduler::Instance() const {
  state::InstanceInfo me;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  me.host = host;
  me.name = options_.instance.id.empty() ? me.host : options_.instance.id;
  me.pid = static_cast<int64_t>(::getpid());
  me.token = me.name + "/" + std::to_string(me.pid) + "/" + std::to_string(NowMs());
#ifdef P2P_VERSION
  me.version = P2P_VERSION;
#else
  me.version = "unknown";
#endif
  me.lease_ms = options_.state.lease_timeout.count();
  return me;
}

asio::awaitable<void> Scheduler::KeepLeases(bool& done, asio::steady_timer& finished) {
  // Renewed every third of the lease, so that two renewals may fail (a slow database, a loop
  // blocked for a moment) before another instance can take a job this one runs.
  const Millis every{std::max<int64_t>(1000, options_.state.lease_timeout.count() / 3)};
  while (!done) {
    const int64_t now = NowMs();
    auto held = db_.RenewLeases(now);
    if (!held) {
      spdlog::warn("cluster: renewing leases: {}", held.error().message);
    } else {
      leases_gauge_.Set(static_cast<double>(*held));
    }
    if (auto live = db_.LiveInstances(now); live) {
      instances_gauge_.Set(static_cast<double>(*live));
      for (auto& p : payers_) p->ShareRate(*live);
    }
    if (auto c = db_.CompactCounters(); !c) {
      spdlog::warn("cluster: folding the state's counters: {}", c.error().message);
    }
    co_await WaitOn(lease_timer_, every);
  }
  finished.cancel();
}

asio::awaitable<Result<void>> Scheduler::Run(bool once) {
  if (db_.clustered()) {
    std::vector<std::string> ids;
    for (const auto& p : payers_) ids.push_back(p->id());
    const state::InstanceInfo me = Instance();
    if (auto j = db_.JoinCluster(me, ids, NowMs()); !j) co_return std::move(j).error();
    spdlog::info("cluster: instance {} joined (lease timeout {} ms)", me.token, me.lease_ms);
  }
  bool leases_done = !db_.clustered();
  asio::steady_timer leases_finished(io_);
  leases_finished.expires_at(asio::steady_timer::time_point::max());
  std::unique_ptr<ClusterWake> wake;
  if (!leases_done) {
    asio::co_spawn(io_, KeepLeases(leases_done, leases_finished), asio::detached);
    // Other instances' new members and operators' retries and cancels wake the payer loops.
    wake = std::make_unique<ClusterWake>(
        io_,
        state::PgConnOptions{options_.state.dsn, options_.state.password, options_.state.schema},
        [this](const std::string& payer) { Wake(payer); });
    wake->Start();
  }
  auto result = co_await RunLoops(once);
  if (db_.clustered()) {
    wake->Stop();
    co_await wake->Stopped();
    leases_done = true;
    lease_timer_.cancel();
    boost::system::error_code ec;
    co_await leases_finished.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (auto l = db_.LeaveCluster(NowMs()); !l) {
      spdlog::warn("cluster: leaving: {}", l.error().message);
    }
  }
  co_return result;
}

asio::awaitable<Result<void>> Scheduler::RunLoops(bool once) {
  // Batches that ended just before a crash settle their members (pipeline/bulk_match.h).
  if (auto s = BulkMatcher(db_, limits_).SettleAll(); !s) co_return std::move(s).error();
  if (auto r = Intake(); !r) co_return r;
  size_t remaining = loops_.size();
  asio::steady_timer all_done(io_);
  all_done.expires_at(asio::steady_timer::time_point::max());
  for (auto& loop : loops_) {
    asio::co_spawn(
        io_,
        [this, &loop, once, &remaining, &all_done]() -> asio::awaitable<void> {
          auto r = co_await Dispatch(*loop, once);
          if (!r) {
            spdlog::critical("payer {}: scheduler stopped: {}", loop->client.id(),
                             r.error().message);
            if (!fatal_) fatal_ = r.error();
            Stop();
          }
          if (--remaining == 0) all_done.cancel();
        },
        asio::detached);
  }
  if (!once) {
    while (!stopping_.load()) {
      co_await WaitOn(intake_timer_, options_.source.poll_interval);
      if (stopping_.load()) break;
      if (auto r = Intake(); !r) {
        spdlog::error("source: {}", r.error().message);
      }
    }
  }
  while (remaining > 0) {
    boost::system::error_code ec;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  http_.CloseIdle();
  if (fatal_) co_return *fatal_;
  co_return Ok();
}

}  // namespace p2p::pipeline
