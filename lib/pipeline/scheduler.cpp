#include "pipeline/scheduler.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>

#include "core/civil_date.h"
#include "pipeline/lifecycle.h"
#include "pipeline/member_intake.h"
#include "pipeline/member_record.h"

namespace p2p::pipeline {

namespace asio = boost::asio;

struct Scheduler::PayerLoop {
  explicit PayerLoop(asio::io_context& io, PayerClient& c) : client(c), wake(io) {}
  PayerClient& client;
  asio::steady_timer wake;
  std::set<int64_t> running;
  // Another instance of the cluster saw the payer throttle: no claims before this (unix ms).
  int64_t cluster_throttled_until_ms = 0;
};

namespace {

asio::awaitable<void> WaitOn(asio::steady_timer& timer, Millis d) {
  timer.expires_after(d);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// Enough pooled keep-alive connections per host for every request the busiest payer can have
// in flight (its jobs, each downloading files_in_parallel files): with the default of 8, a payer
// at concurrency 64 opened and closed a connection for most requests (measured: ~2.7 connects
// per member). Capped: the pool only keeps connections the payer already opened.
http::ClientOptions PooledClientOptions(const Options& options, const PipelineLimits& limits) {
  http::ClientOptions o;
  for (const PayerOptions& p : options.payers) {
    const size_t in_flight = static_cast<size_t>(p.limits.concurrency) *
                             static_cast<size_t>(std::max(limits.files_in_parallel, 1));
    o.max_idle_per_host = std::max(o.max_idle_per_host, std::min<size_t>(in_flight, 256));
  }
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
      http_(io, PooledClientOptions(options, limits)),
      rng_(std::random_device{}()),
      runner_(db, store, limits_, stopping_, counters_, &metrics),
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
    // A payer throttled, recovered or refusing our credentials: its loop looks again, and the
    // other instances of a cluster hold the payer back too.
    payers_.back()->SetOnChange([this, loop = loops_.back().get()] {
      loop->wake.cancel();
      const int64_t until = loop->client.throttled_until_ms();
      if (until > NowMs()) {
        if (auto r = db_.ShareThrottle(loop->client.id(), until); !r) {
          spdlog::warn("payer {}: sharing its throttling with the cluster: {}", loop->client.id(),
                       r.error().message);
        }
      }
    });
  }
}

Scheduler::~Scheduler() = default;

void Scheduler::Stop() {
  stopping_.store(true);
  intake_timer_.cancel();
  WakeAll();
}

void Scheduler::Reconfigured() {
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

Result<void> Scheduler::Intake() {
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
  loop.wake.cancel();
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
  loop.wake.cancel();
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
    if (!stopping_.load()) {
      // Jobs an operator cancelled while their export ran: cancel the export at the payer (once
      // it takes requests again).
      using Cancels = std::vector<std::pair<int64_t, std::string>>;
      auto cancels = held_back ? Result<Cancels>(Cancels{})
                               : PendingExportCancels(db_, loop.client.id(), concurrency);
      if (!cancels) co_return std::move(cancels).error();
      for (auto& [id, url] : *cancels) {
        if (loop.running.count(id) != 0) continue;
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
    if (!stopping_.load() && !held_back && !rejected) {
      int free = concurrency - static_cast<int>(loop.running.size());
      if (free > 0) {
        // Leased to this instance with the PostgreSQL state (the payer's concurrency holds for
        // the whole cluster); with SQLite simply the runnable ones.
        auto claim = db_.ClaimRunnable(loop.client.id(), now, free, concurrency,
                                       static_cast<int>(loop.running.size()));
        if (!claim) co_return std::move(claim).error();
        loop.cluster_throttled_until_ms = claim->throttled_until_ms;
        for (int64_t id : claim->ids) {
          if (free == 0) break;
          if (loop.running.count(id) != 0) continue;
          loop.running.insert(id);
          --free;
          asio::co_spawn(io_, RunOne(loop, id), asio::detached);
        }
      }
    }
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
  if (!leases_done) {
    asio::co_spawn(io_, KeepLeases(leases_done, leases_finished), asio::detached);
  }
  auto result = co_await RunLoops(once);
  if (db_.clustered()) {
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
