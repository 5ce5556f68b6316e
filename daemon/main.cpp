// p2p-ingestd: wiring only. Loads the options, opens the state DB and the store (locked against
// `compact`), recovers it to the last committed marks, and runs the scheduler on one io_context
// until SIGTERM (or, with --once, until every job is terminal). Only main has a catch-all.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>

#include "cli.h"
#include "operator_cli.h"
#include "probe_command.h"
#include "state_setup.h"
#include "store_setup.h"
#include "systemd_notifier.h"
#include "core/job_state.h"
#include "core/url.h"
#include "http/tls_context.h"
#include "config/config.h"
#include "logging/logging.h"
#include "metrics/metrics.h"
#include "logging/progress.h"
#include "status/status_server.h"
#include "pipeline/scheduler.h"
#include "source/directory_source.h"
#include "state/state_db.h"
#include "store/postgres_store.h"
#include "store/resource_store.h"

namespace {

constexpr int kExitConfig = 78;  // EX_CONFIG
constexpr int kExitSoftware = 70;

namespace asio = boost::asio;
using namespace p2p;

void PrintSummary(state::StateDb& db, store::ResourceStore& store, const Options& options,
                  const pipeline::Scheduler& sched) {
  std::printf("p2p-ingestd summary\n");
  const auto& in = sched.intake_stats();
  std::printf("  source: %lld files, %lld members taken in, %lld already known, %lld row problems\n",
              static_cast<long long>(in.files), static_cast<long long>(in.rows_taken),
              static_cast<long long>(in.rows_already_known),
              static_cast<long long>(in.rows_rejected));
  if (auto counts = db.CountByState()) {
    std::printf("  members by state:\n");
    for (int s = 0; s < kJobStateCount; ++s) {
      if ((*counts)[static_cast<size_t>(s)] == 0) continue;
      std::printf("    %-16s %lld\n", std::string(JobStateName(static_cast<JobState>(s))).c_str(),
                  static_cast<long long>((*counts)[static_cast<size_t>(s)]));
    }
  }
  if (auto types = store.CountByType()) {
    std::printf("  resources in the store by type:\n");
    for (const auto& [type, n] : *types) {
      std::printf("    %-22s %lld\n", type.c_str(), static_cast<long long>(n));
    }
  }
  const auto& c = sched.counters();
  std::printf("  this run: %lld files, %lld resources stored, %lld bad lines, %.1f MB downloaded\n",
              static_cast<long long>(c.files_done), static_cast<long long>(c.resources_stored),
              static_cast<long long>(c.bad_lines), static_cast<double>(c.bytes_downloaded) / 1e6);
  std::printf("  state DB: %s\n  store (%s): %s\n", StateLocation(options.state).c_str(),
              StoreKindName(options.store.kind), StoreLocation(options.store).c_str());
  std::fflush(stdout);
}

// Applies what can change while running (log level, the limits over all payers, payer limits,
// retry and poll settings);
// other changes (payers added or removed, URLs, credentials, identities, paths) need a restart
// and say so.
void ReloadConfiguration(const std::string& path, Options& running, pipeline::Scheduler& sched) {
  if (auto r = ReopenLogs(); !r) spdlog::error("reload: log files: {}", r.error().message);
  auto fresh = LoadOptions(path);
  if (!fresh) {
    spdlog::error("reload: the new configuration is rejected; keeping the running one:\n{}",
                  fresh.error().message);
    return;
  }
  if (auto r = SetLogLevel(fresh->log.level); !r) spdlog::error("reload: {}", r.error().message);
  running.log.level = fresh->log.level;
  if (fresh->limits.max_jobs_in_flight != running.limits.max_jobs_in_flight ||
      fresh->limits.max_requests != running.limits.max_requests ||
      fresh->limits.max_downloads != running.limits.max_downloads) {
    spdlog::info("reload: limits over all payers: {} jobs in flight, {} requests, {} downloads",
                 fresh->limits.max_jobs_in_flight, fresh->limits.max_requests,
                 fresh->limits.max_downloads);
  }
  running.limits = fresh->limits;
  bool restart_needed = fresh->payers.size() != running.payers.size() ||
                        fresh->self.identifier != running.self.identifier ||
                        fresh->self.name != running.self.name;
  for (PayerOptions& p : running.payers) {
    const PayerOptions* q = nullptr;
    for (const PayerOptions& f : fresh->payers) {
      if (f.id == p.id) q = &f;
    }
    if (q == nullptr) {
      restart_needed = true;
      continue;
    }
    if (q->base_url != p.base_url || q->auth.token_url != p.auth.token_url ||
        q->auth.discover != p.auth.discover || q->member_match_path != p.member_match_path ||
        q->export_path != p.export_path || q->trusted_hosts != p.trusted_hosts ||
        q->tls != p.tls || q->identifier != p.identifier || q->name != p.name ||
        q->allow_insecure_http != p.allow_insecure_http) {
      restart_needed = true;
    } else {
      // Credentials (client id, secret or key, scope, method) apply at once: a payer whose
      // token endpoint rejected them resumes with the corrected ones.
      p.auth = q->auth;
    }
    p.limits = q->limits;
    p.retry = q->retry;
    p.poll = q->poll;
    p.export_job = q->export_job;
    p.request_timeout = q->request_timeout;
  }
  sched.Reconfigured();
  spdlog::info("reload: log level {}, payer credentials, limits, retry, poll and export settings "
               "applied", running.log.level);
  if (restart_needed) {
    spdlog::warn("reload: payers, URLs, hosts or TLS settings changed; they take effect at the "
                 "next restart");
  }
}

// The process holds client secrets, tokens and PHI in memory: no core dump may carry them, and
// no other process of the same user may ptrace or read /proc/PID/mem. Files it creates are the
// owner's only (state DB, store, logs, rejected rows), whatever the caller's umask.
void HardenProcess() {
  ::umask(077);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  struct rlimit no_core {0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
}

// Loads every payer's TLS files (CA bundle, client certificate and key) once, so that a missing
// or unreadable file, or a group-readable key, stops the start instead of failing each request.
bool CheckTlsFiles(const Options& options) {
  bool ok = true;
  for (std::size_t i = 0; i < options.payers.size(); ++i) {
    const PayerTlsOptions& t = options.payers[i].tls;
    if (t == PayerTlsOptions{}) continue;
    auto made = http::MakeClientTlsContext(http::TlsOptions{t.ca_file, t.client_cert, t.client_key});
    if (!made) {
      std::fprintf(stderr, "%s: payers[%zu].%s\n", options.config_path.c_str(), i,
                   made.error().message.c_str());
      ok = false;
    }
  }
  return ok;
}

// One warning per payer that allows plain http, at every start (after logging is set up).
void WarnInsecureHttp(const Options& options) {
  for (const PayerOptions& p : options.payers) {
    if (!p.allow_insecure_http) continue;
    std::string plain;
    for (const std::string* url : {&p.base_url, &p.auth.token_url}) {
      Result<Url> u = Url::Parse(*url);
      if (u && !u->tls() && !IsLoopbackHost(u->host)) plain += (plain.empty() ? "" : ", ") + *url;
    }
    spdlog::warn(
        "payer {}: allow_insecure_http is true: {}; the client secret, bearer tokens and member "
        "data may cross the network unencrypted",
        p.id, plain.empty() ? "no URL uses plain http now" : "plain http to " + plain);
  }
}

int Run(const daemon::CommandLine& cl) {
  auto loaded = LoadOptions(cl.config);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    return kExitConfig;
  }
  Options options = std::move(loaded).value();
  if (!CheckTlsFiles(options)) return kExitConfig;
  if (cl.command == "check-config") {
    // Warnings do not fail the check: the daemon runs with them.
    for (const std::string& w : options.warnings) std::fprintf(stderr, "%s\n", w.c_str());
    std::string store_check;
    if (options.store.kind == StoreKind::kPostgres) {
      // The store's server is part of the configuration: reachable, login, schema privilege.
      auto checked = store::PostgresStore::Check(options.store);
      if (!checked) {
        std::fprintf(stderr, "%s: store: %s\n", cl.config.c_str(),
                     checked.error().message.c_str());
        return kExitConfig;
      }
      store_check = "store server: " + *checked + "\n";
    }
    if (options.state.kind == StateKind::kPostgres) {
      // The same for the shared job state (connects and brings the schema up to date).
      auto state_db = daemon::OpenStateDb(options.state);
      if (!state_db) {
        std::fprintf(stderr, "%s: state: %s\n", cl.config.c_str(),
                     state_db.error().message.c_str());
        return kExitConfig;
      }
      store_check += "state server: ok, schema " + options.state.schema + "\n";
    }
    std::printf("%s: ok\n%s%s", cl.config.c_str(), DescribeOptions(options).c_str(),
                store_check.c_str());
    return 0;
  }
  if (cl.command == "probe") return daemon::RunProbe(options, cl.payer, stdout, stderr);

  if (auto r = SetupLogging(options.log, true); !r) {
    std::fprintf(stderr, "log: %s\n", r.error().message.c_str());
    return kExitConfig;
  }
  WarnInsecureHttp(options);
  for (const std::string& w : options.warnings) spdlog::warn("config: {}", w);
  auto db = daemon::OpenStateDb(options.state);
  if (!db) {
    spdlog::critical("{}", db.error().message);
    return kExitSoftware;
  }
  if (options.state.kind == StateKind::kPostgres) {
    if (options.state.dsn == options.store.dsn) {
      // One database: the store fences its commits with the job leases and commits each file's
      // "done" row with its resources, in one transaction.
      options.store.state_schema = options.state.schema;
    } else {
      spdlog::warn("state.dsn and store.dsn differ: each file's resources and its done mark are "
                   "committed apart, and a daemon paused past a job's lease may still store one "
                   "merge of its rows (use one database for both to close this)");
    }
  }
  // The store's lock keeps `compact` (and a second daemon) away while this one runs.
  auto store = daemon::OpenStoreForWriting(options.store, **db);
  if (!store) {
    spdlog::critical("store: {}", store.error().message);
    return kExitSoftware;
  }
  std::vector<std::string> payer_ids;
  for (const auto& p : options.payers) payer_ids.push_back(p.id);
  source::DirectorySource source(options.source, payer_ids, options.instance.id);
  source.SetWarning([](const std::string& text) { spdlog::warn("source: {}", text); });
  if (auto r = source.Prepare(); !r) {
    spdlog::critical("source: {}", r.error().message);
    // Another daemon with this instance.id on the same inbox: a configuration to fix.
    return r.error().kind == ErrorKind::kInvalid ? kExitConfig : kExitSoftware;
  }

  asio::io_context io;
  Metrics metrics;
  pipeline::Scheduler sched(io, options, **db, **store, source, metrics);
  std::unique_ptr<StatusServer> status;
  if (options.status.enabled()) {
    StatusServerSettings status_settings;
    status_settings.deadline_at_risk_s =
        std::chrono::duration_cast<std::chrono::seconds>(options.deadline.at_risk_within).count();
    status_settings.payer_conditions = [&sched] {
      std::vector<PayerCondition> out;
      for (const auto& p : sched.payers()) {
        out.push_back({p->id(), p->throttled_until_ms(), p->auth_rejected(), p->auth_error()});
      }
      return out;
    };
    status = std::make_unique<StatusServer>(
        io, options.status, **db, metrics,
        [&source] { return static_cast<bool>(source.CheckReadable()); }, std::move(status_settings));
    auto bound = status->Start();
    if (!bound) {
      spdlog::critical("status.listen: {}", bound.error().message);
      return kExitConfig;
    }
    spdlog::info("status endpoint on http://{}/status", *bound);
  }
  daemon::SystemdNotifier notifier(io, [&] {
    auto active = (*db)->ActiveCount();
    const auto& c = sched.counters();
    return std::to_string(active ? *active : -1) + " members active; this run: " +
           std::to_string(c.files_done) + " files, " + std::to_string(c.resources_stored) +
           " resources stored, " + std::to_string(c.bad_lines) + " bad lines";
  });
  asio::signal_set signals(io, SIGTERM, SIGINT);
  asio::steady_timer grace(io);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping (in-flight requests are abandoned after 8 s)", sig);
    notifier.Stopping();
    sched.Stop();
    grace.expires_after(std::chrono::seconds(8));
    grace.async_wait([&](const boost::system::error_code& e) {
      if (!e) io.stop();
    });
  });
  // SIGHUP: reopen log files, re-read the configuration; apply log level and payer limits, or
  // keep the running configuration when the new one is bad.
  asio::signal_set hup(io, SIGHUP);
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      notifier.Reloading();
      ReloadConfiguration(cl.config, options, sched);
      notifier.Reloaded();
      wait_hup();
    });
  };
  wait_hup();
  // A progress line every log.progress_interval while work is in flight.
  asio::steady_timer progress_timer(io);
  ProgressSample last_sample;
  auto sample = [&]() {
    ProgressSample s;
    s.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now().time_since_epoch())
                  .count();
    if (auto c = (*db)->CountByState()) s.by_state = *c;
    s.resources_stored = sched.counters().resources_stored;
    s.bytes_downloaded = sched.counters().bytes_downloaded;
    if (auto p = (*db)->CountByPayerState()) {
      for (const auto& row : *p) {  // ordered by payer
        if (s.payers.empty() || s.payers.back().payer != row.payer) {
          s.payers.push_back({row.payer, 0, 0});
        }
        if (IsTerminal(row.state)) {
          s.payers.back().finished += row.count;
        } else if (row.state != JobState::kPending) {
          s.payers.back().active += row.count;
        }
      }
    }
    return s;
  };
  std::function<void()> arm_progress = [&] {
    if (options.log.progress_interval.count() <= 0) return;
    progress_timer.expires_after(options.log.progress_interval);
    progress_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      ProgressSample now = sample();
      if (WorkInFlight(now)) spdlog::info("{}", FormatProgress(last_sample, now));
      last_sample = std::move(now);
      arm_progress();
    });
  };
  last_sample = sample();
  arm_progress();
  // Housekeeping: complete jobs older than state.retention keep their summary row and lose their
  // per-file rows; freed pages go back to the file system. Hourly, and once at start.
  asio::steady_timer housekeeping_timer(io);
  std::function<void()> housekeep = [&] {
    if (options.state.retention.count() > 0) {
      auto trimmed = (*db)->Housekeep(pipeline::NowMs() - options.state.retention.count(), 500);
      if (!trimmed) {
        spdlog::error("housekeeping: {}", trimmed.error().message);
      } else if (*trimmed > 0) {
        spdlog::info("housekeeping: {} complete jobs older than state.retention trimmed", *trimmed);
      }
    }
    housekeeping_timer.expires_after(std::chrono::hours(1));
    housekeeping_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) housekeep();
    });
  };
  housekeep();
  Result<void> outcome = Ok();
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        outcome = co_await sched.Run(cl.once);
        finished = true;
        if (status) status->Stop();
        notifier.Stopping();
        signals.cancel();
        hup.cancel();
        grace.cancel();
        progress_timer.cancel();
        housekeeping_timer.cancel();
      },
      asio::detached);
  spdlog::info("p2p-ingestd {} started: {} payers, state {}, store {}", P2P_VERSION,
               options.payers.size(), StateLocation(options.state), StoreLocation(options.store));
  notifier.Ready();
  io.run();
  (*store)->Quiesce();  // a commit still reporting posts to `io`: it must still be there
  (*db)->Checkpoint();
  if (finished && !outcome) {
    spdlog::critical("stopped on a local failure: {}", outcome.error().message);
    return kExitSoftware;
  }
  if (cl.once) PrintSummary(**db, **store, options, sched);
  if (cl.once && finished) {
    // Credentials only an operator can fix: say so rather than wait for ever.
    const auto rejected = sched.AuthRejected();
    for (const auto& [payer, code] : rejected) {
      std::fprintf(stderr,
                   "p2p-ingestd: payer %s: the token endpoint rejects our credentials (%s); its "
                   "members wait: correct the payer's auth settings and run again\n",
                   payer.c_str(), code.c_str());
    }
    if (!rejected.empty()) return kExitSoftware;
  }
  spdlog::info("p2p-ingestd stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  HardenProcess();
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && p2p::daemon::IsOperatorCommand(args[0])) {
      return p2p::daemon::RunOperatorCommand(args, stdout, stderr);
    }
    p2p::daemon::CommandLine cl = p2p::daemon::ParseCommandLine(args);
    if (!cl.error.empty()) {
      std::fprintf(stderr, "p2p-ingestd: %s\n%s", cl.error.c_str(), p2p::daemon::UsageText());
      return 64;  // EX_USAGE
    }
    if (cl.command == "version") {
      std::printf("p2p-ingestd %s\n", P2P_VERSION);
      return 0;
    }
    if (cl.command == "help") {
      std::printf("%s%s", p2p::daemon::UsageText(), p2p::daemon::OperatorUsageText());
      return 0;
    }
    return Run(cl);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "p2p-ingestd: fatal: %s\n", e.what());
    return kExitSoftware;
  }
}
