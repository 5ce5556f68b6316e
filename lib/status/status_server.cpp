#include "status/status_server.h"

// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <optional>
#include <utility>

#include "core/job_state.h"
#include "state/sqlite_util.h"
#include "state/state_db.h"

#ifndef P2P_VERSION
#define P2P_VERSION "unknown"
#endif

namespace p2p {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::awaitable;
using net::ip::tcp;

constexpr size_t kMaxErrorClasses = 32;
constexpr size_t kMaxPayers = 1000;
constexpr size_t kMaxClassBytes = 64;

// The server's queries; each uses an index (see the schema in migrations/001_initial.sql and
// 002_member_counts.sql). Counts come from member_counts (a few rows per payer, kept by
// triggers), so they cost the same with a million members as with ten.
// One pass over member_counts in primary-key order (payer, state): the totals by state and, per
// payer, its counts by state (a few rows per payer, kept by triggers).
constexpr std::string_view kByStateSql = "SELECT payer, state, n FROM member_counts";
// Range of the payer's active jobs by deadline; the row lookup for requested_ms is bounded by
// the cap.
constexpr std::string_view kPayerDeadlineSql =
    "SELECT COUNT(*) FROM (SELECT 1 FROM members INDEXED BY members_runnable WHERE payer=?1 AND "
    "state<=5 AND deadline<?2 AND requested_ms IS NULL LIMIT ?3)";
constexpr std::string_view kNextErrorClassSql =
    "SELECT error_class FROM events WHERE error_class>?1 ORDER BY error_class LIMIT 1";
constexpr std::string_view kErrorLastSql = "SELECT MAX(at_ms) FROM events WHERE error_class=?1";
constexpr std::string_view kErrorWindowSql =
    "SELECT COUNT(*) FROM events WHERE error_class=?1 AND at_ms>=?2";

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char ch : s) {
    switch (ch) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        if (ch < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[ch >> 4]);
          out->push_back(kHex[ch & 0xf]);
        } else {
          out->push_back(static_cast<char>(ch));
        }
    }
  }
  out->push_back('"');
}

void AppendKey(std::string* out, std::string_view key) {
  AppendJsonString(out, key);
  out->push_back(':');
}

void AppendInt(std::string* out, int64_t v) { out->append(std::to_string(v)); }

// The process's resident set in bytes (second field of /proc/self/statm, in pages); -1 when
// unreadable. Lets an operator see that memory stays flat over a long run.
int64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return -1;
  char line[128];
  const bool read = std::fgets(line, sizeof line, f) != nullptr;
  (void)std::fclose(f);  // read-only: nothing to flush
  if (!read) return -1;
  // "size resident shared ...", in pages.
  const char* end = line + std::strlen(line);
  int64_t size = 0;
  int64_t resident = -1;
  auto r = std::from_chars(line, end, size);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ' ') return -1;
  r = std::from_chars(r.ptr + 1, end, resident);
  if (r.ec != std::errc() || resident < 0) return -1;
  return resident * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

// Compares without an early exit, so the time does not tell how much of a guess was right (the
// length may leak; tokens are long random strings).
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// "HOST:PORT" or "[V6]:PORT" -> host (brackets removed), port.
bool SplitListen(std::string_view listen, std::string* host, uint16_t* port) {
  std::string_view h;
  std::string_view p;
  if (!listen.empty() && listen.front() == '[') {
    const auto close = listen.find("]:");
    if (close == std::string_view::npos) return false;
    h = listen.substr(1, close - 1);
    p = listen.substr(close + 2);
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) return false;
    h = listen.substr(0, colon);
    p = listen.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) return false;
  }
  if (h.empty() || p.empty() || p.size() > 5) return false;
  uint32_t v = 0;
  for (char ch : p) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<uint32_t>(ch - '0');
  }
  if (v > 65535) return false;
  *host = std::string(h);
  *port = static_cast<uint16_t>(v);
  return true;
}

std::optional<net::ip::address> ParseHost(std::string_view host) {
  if (host == "localhost") return net::ip::make_address_v4("127.0.0.1");
  boost::system::error_code ec;
  auto addr = net::ip::make_address(std::string(host), ec);
  if (ec) return std::nullopt;
  return addr;
}

bool IsLoopback(const net::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();
}

}  // namespace

bool IsLoopbackBindHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto addr = ParseHost(host);
  return addr && IsLoopback(*addr);
}

struct StatusServer::Impl {
  Impl(net::io_context& io_in, const StatusOptions& options_in, state::StateDb& db_in,
       Metrics& metrics_in, std::function<bool()> ready_in, StatusServerSettings settings_in)
      : io(io_in),
        options(options_in),
        db(db_in),
        metrics(metrics_in),
        ready(std::move(ready_in)),
        settings(std::move(settings_in)),
        acceptor(io_in) {
    if (!settings.now_ms) settings.now_ms = SystemNowMs;
  }

  Result<StatusSnapshot> Read();
  // The cached snapshot, re-read when older than cache_ttl; nullptr on a DB error (logged).
  const StatusSnapshot* Cached();
  void UpdateDbGauges(const StatusSnapshot& snap);
  std::string StatusJson(const StatusSnapshot& snap) const;
  // "payer X: credentials rejected (code)" for each such payer, "; "-joined; "" when none.
  std::string RejectedPayers() const;
  http::response<http::string_body> Handle(const http::request<http::string_body>& req);
  void FinalizeQueries();
  // Coroutines take the shared pointer as a parameter so that their frames own the Impl.
  static awaitable<void> Accept(std::shared_ptr<Impl> self);
  static awaitable<void> Session(std::shared_ptr<Impl> self, tcp::socket socket);

  net::io_context& io;
  StatusOptions options;
  state::StateDb& db;
  Metrics& metrics;
  std::function<bool()> ready;
  StatusServerSettings settings;
  tcp::acceptor acceptor;
  bool started = false;
  bool stopped = false;
  const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  state::Stmt by_state, payer_deadline, next_class, class_last, class_window;
  std::optional<StatusSnapshot> cache;
  std::chrono::steady_clock::time_point cache_at;
  std::map<std::string, Gauge*, std::less<>> payer_gauges;
  // p2p_deadline_members{payer,status}: on_time, late, at_risk.
  std::map<std::string, std::array<Gauge*, 3>, std::less<>> deadline_gauges;

  uint64_t next_session = 0;
  std::map<uint64_t, beast::tcp_stream*> sessions;
};

Result<StatusSnapshot> StatusServer::Impl::Read() {
  StatusSnapshot snap;
  snap.now_ms = settings.now_ms();
  snap.by_state.assign(kJobStateCount, 0);
  const int64_t now_s = snap.now_ms / 1000;

  // One read transaction so the numbers agree with each other.
  const bool own_txn = sqlite3_get_autocommit(db.handle()) != 0;
  if (own_txn) {
    if (auto r = state::Exec(db.handle(), "BEGIN", "status: begin"); !r)
      return std::move(r).error();
  }
  struct EndTxn {
    sqlite3* db;
    bool own;
    ~EndTxn() {
      if (own) sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
  } end_txn{db.handle(), own_txn};

  for (;;) {
    auto row = by_state.Step("status: count by state");
    if (!row) {
      by_state.Reset();
      return std::move(row).error();
    }
    if (!*row) break;
    const int64_t s = by_state.Int(1);
    const int64_t n = by_state.Int(2);
    if (s < 0 || s >= kJobStateCount || n <= 0) continue;
    snap.by_state[static_cast<size_t>(s)] += n;
    std::string payer = by_state.Text(0);
    if (snap.payers.empty() || snap.payers.back().payer != payer) {
      if (snap.payers.size() >= kMaxPayers) continue;
      StatusSnapshot::Payer p;
      p.payer = std::move(payer);
      p.by_state.assign(kJobStateCount, 0);
      snap.payers.push_back(std::move(p));
    }
    StatusSnapshot::Payer& p = snap.payers.back();
    p.by_state[static_cast<size_t>(s)] += n;
    if (!IsTerminal(static_cast<JobState>(s))) p.active += n;
  }
  by_state.Reset();

  auto count = [](state::Stmt& st, std::string_view what) -> Result<int64_t> {
    auto row = st.Step(what);
    const int64_t n = row && *row ? st.Int(0) : 0;
    st.Reset();
    if (!row) return std::move(row).error();
    return n;
  };

  // Deadlines only for payers with active jobs: an indexed range bounded by the cap.
  for (StatusSnapshot::Payer& p : snap.payers) {
    if (p.active == 0) continue;
    payer_deadline.Bind(1, p.payer).Bind(2, now_s).Bind(3, settings.sla_count_cap);
    auto past = count(payer_deadline, "status: deadline past");
    if (!past) return std::move(past).error();
    payer_deadline.Bind(1, p.payer)
        .Bind(2, now_s + settings.sla_near_s)
        .Bind(3, settings.sla_count_cap);
    auto due = count(payer_deadline, "status: deadline near");
    if (!due) return std::move(due).error();
    if (*past >= settings.sla_count_cap || *due >= settings.sla_count_cap) snap.capped = true;
    p.deadline_past = *past;
    p.deadline_near = std::max<int64_t>(0, *due - *past);
  }

  // CMS-0057-F deadlines per payer, from counts kept by triggers (inside this read transaction).
  auto deadlines = db.DeadlineReport(now_s, settings.deadline_at_risk_s);
  if (!deadlines) return std::move(deadlines).error();
  snap.deadlines.reserve(std::min(deadlines->size(), kMaxPayers));
  for (auto& d : *deadlines) {
    if (snap.deadlines.size() >= kMaxPayers) break;
    snap.deadlines.push_back({std::move(d.payer), d.on_time, d.late, d.at_risk});
  }

  std::string prev;
  while (snap.errors.size() < kMaxErrorClasses) {
    next_class.Bind(1, prev);
    auto row = next_class.Step("status: next error class");
    if (row && *row) prev = next_class.Text(0);
    next_class.Reset();
    if (!row) return std::move(row).error();
    if (!*row) break;
    StatusSnapshot::ErrorClass e;
    e.error_class = prev.substr(0, kMaxClassBytes);
    class_last.Bind(1, prev);
    auto last = count(class_last, "status: error last");
    if (!last) return std::move(last).error();
    e.last_at_ms = *last;
    class_window.Bind(1, prev).Bind(2, snap.now_ms - settings.error_window_s * 1000);
    auto window = count(class_window, "status: error window");
    if (!window) return std::move(window).error();
    e.count_window = *window;
    snap.errors.push_back(std::move(e));
  }
  std::stable_sort(snap.errors.begin(), snap.errors.end(),
                   [](const auto& a, const auto& b) { return a.last_at_ms > b.last_at_ms; });
  return snap;
}

const StatusSnapshot* StatusServer::Impl::Cached() {
  const auto now = std::chrono::steady_clock::now();
  if (cache && now - cache_at < settings.cache_ttl) return &*cache;
  auto snap = Read();
  if (!snap) {
    spdlog::warn("status: reading the state DB failed: {}", snap.error().message);
    return nullptr;
  }
  cache = std::move(snap).value();
  cache_at = now;
  UpdateDbGauges(*cache);
  return &*cache;
}

void StatusServer::Impl::UpdateDbGauges(const StatusSnapshot& snap) {
  for (int s = 0; s < kJobStateCount; ++s) {
    metrics.GetGauge(metric::kMembers, {{"state", JobStateName(static_cast<JobState>(s))}})
        .Set(static_cast<double>(snap.by_state[static_cast<size_t>(s)]));
  }
  for (auto& [payer, gauge] : payer_gauges) gauge->Set(0);  // a payer with no active jobs
  int64_t past = 0;
  int64_t near = 0;
  for (const auto& p : snap.payers) {
    auto it = payer_gauges.find(p.payer);
    if (it == payer_gauges.end()) {
      Gauge* g = &metrics.GetGauge(metric::kMembersActive, {{"payer", p.payer}});
      it = payer_gauges.emplace(p.payer, g).first;
    }
    it->second->Set(static_cast<double>(p.active));
    for (int st = 0; st < kJobStateCount; ++st) {
      metrics
          .GetGauge(metric::kPayerMembers,
                    {{"payer", p.payer}, {"state", JobStateName(static_cast<JobState>(st))}})
          .Set(static_cast<double>(p.by_state[static_cast<size_t>(st)]));
    }
    past += p.deadline_past;
    near += p.deadline_near;
  }
  metrics.GetGauge(metric::kDeadlinePast).Set(static_cast<double>(past));
  metrics.GetGauge(metric::kDeadlineNear).Set(static_cast<double>(near));
  for (auto& [payer, gauges] : deadline_gauges) {  // a payer with nothing left to report
    for (Gauge* g : gauges) g->Set(0);
  }
  for (const auto& d : snap.deadlines) {
    auto it = deadline_gauges.find(d.payer);
    if (it == deadline_gauges.end()) {
      std::array<Gauge*, 3> g{};
      const std::array<std::string_view, 3> kStatus = {"on_time", "late", "at_risk"};
      for (size_t i = 0; i < g.size(); ++i) {
        g[i] = &metrics.GetGauge(metric::kDeadlineMembers,
                                 {{"payer", d.payer}, {"status", kStatus[i]}});
      }
      it = deadline_gauges.emplace(d.payer, g).first;
    }
    it->second[0]->Set(static_cast<double>(d.on_time));
    it->second[1]->Set(static_cast<double>(d.late));
    it->second[2]->Set(static_cast<double>(d.at_risk));
  }
}

std::string StatusServer::Impl::RejectedPayers() const {
  std::string out;
  if (!settings.payer_conditions) return out;
  for (const PayerCondition& c : settings.payer_conditions()) {
    if (!c.auth_rejected) continue;
    if (!out.empty()) out.append("; ");
    out.append("payer " + c.payer + ": credentials rejected (" + c.auth_error + ")");
  }
  return out;
}

std::string StatusServer::Impl::StatusJson(const StatusSnapshot& snap) const {
  std::string out;
  out.reserve(1024);
  int64_t total = 0;
  int64_t active = 0;
  int64_t in_flight = 0;
  for (int s = 0; s < kJobStateCount; ++s) {
    const int64_t n = snap.by_state[static_cast<size_t>(s)];
    total += n;
    if (!IsTerminal(static_cast<JobState>(s))) active += n;
    if (s >= static_cast<int>(JobState::kMatching) &&
        s <= static_cast<int>(JobState::kDownloading)) {
      in_flight += n;
    }
  }
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
  out.append("{");
  AppendKey(&out, "version");
  AppendJsonString(&out, P2P_VERSION);
  out.append(",");
  AppendKey(&out, "uptime_s");
  AppendInt(&out, uptime.count());
  out.append(",");
  AppendKey(&out, "now_ms");
  AppendInt(&out, snap.now_ms);
  out.append(",\"members\":{\"total\":");
  AppendInt(&out, total);
  out.append(",\"active\":");
  AppendInt(&out, active);
  out.append(",\"in_flight\":");
  AppendInt(&out, in_flight);
  out.append(",\"by_state\":{");
  for (int s = 0; s < kJobStateCount; ++s) {
    if (s > 0) out.push_back(',');
    AppendKey(&out, JobStateName(static_cast<JobState>(s)));
    AppendInt(&out, snap.by_state[static_cast<size_t>(s)]);
  }
  out.append("}},\"payers\":[");
  int64_t past = 0;
  int64_t near = 0;
  // Live payer conditions; payers without jobs are listed when throttled or refused.
  std::vector<PayerCondition> conditions;
  if (settings.payer_conditions) conditions = settings.payer_conditions();
  std::vector<StatusSnapshot::Payer> payers = snap.payers;
  for (const PayerCondition& c : conditions) {
    const bool listed = std::any_of(payers.begin(), payers.end(),
                                    [&](const StatusSnapshot::Payer& p) { return p.payer == c.payer; });
    if (!listed && (c.auth_rejected || c.throttled_until_ms != 0)) {
      StatusSnapshot::Payer p;
      p.payer = c.payer;
      p.by_state.assign(kJobStateCount, 0);
      payers.push_back(std::move(p));
    }
  }
  for (size_t i = 0; i < payers.size(); ++i) {
    const auto& p = payers[i];
    if (i > 0) out.push_back(',');
    out.append("{\"payer\":");
    AppendJsonString(&out, p.payer);
    const PayerCondition* cond = nullptr;
    for (const PayerCondition& c : conditions) {
      if (c.payer == p.payer) cond = &c;
    }
    if (cond != nullptr) {
      out.append(",\"auth\":");
      AppendJsonString(&out, cond->auth_rejected ? "rejected" : "ok");
      if (cond->auth_rejected) {
        out.append(",\"auth_error\":");
        AppendJsonString(&out, cond->auth_error);
      }
      out.append(",\"throttled_until_ms\":");
      AppendInt(&out, cond->throttled_until_ms);
    }
    out.append(",\"active\":");
    AppendInt(&out, p.active);
    out.append(",\"by_state\":{");
    for (int st = 0; st < kJobStateCount; ++st) {
      if (st > 0) out.push_back(',');
      AppendKey(&out, JobStateName(static_cast<JobState>(st)));
      AppendInt(&out, p.by_state[static_cast<size_t>(st)]);
    }
    out.push_back('}');
    out.append(",\"deadline_past\":");
    AppendInt(&out, p.deadline_past);
    out.append(",\"deadline_near\":");
    AppendInt(&out, p.deadline_near);
    out.push_back('}');
    past += p.deadline_past;
    near += p.deadline_near;
  }
  out.append("],\"sla\":{\"deadline_past\":");
  AppendInt(&out, past);
  out.append(",\"deadline_near\":");
  AppendInt(&out, near);
  out.append(",\"near_window_s\":");
  AppendInt(&out, settings.sla_near_s);
  out.append(",\"capped\":");
  out.append(snap.capped ? "true" : "false");
  out.append("},\"deadlines\":{\"at_risk_within_s\":");
  AppendInt(&out, settings.deadline_at_risk_s);
  int64_t on_time = 0;
  int64_t late = 0;
  int64_t at_risk = 0;
  for (const auto& d : snap.deadlines) {
    on_time += d.on_time;
    late += d.late;
    at_risk += d.at_risk;
  }
  out.append(",\"on_time\":");
  AppendInt(&out, on_time);
  out.append(",\"late\":");
  AppendInt(&out, late);
  out.append(",\"at_risk\":");
  AppendInt(&out, at_risk);
  out.append(",\"payers\":[");
  for (size_t i = 0; i < snap.deadlines.size(); ++i) {
    const auto& d = snap.deadlines[i];
    if (i > 0) out.push_back(',');
    out.append("{\"payer\":");
    AppendJsonString(&out, d.payer);
    out.append(",\"on_time\":");
    AppendInt(&out, d.on_time);
    out.append(",\"late\":");
    AppendInt(&out, d.late);
    out.append(",\"at_risk\":");
    AppendInt(&out, d.at_risk);
    out.push_back('}');
  }
  out.append("]},\"errors\":[");
  for (size_t i = 0; i < snap.errors.size(); ++i) {
    const auto& e = snap.errors[i];
    if (i > 0) out.push_back(',');
    out.append("{\"class\":");
    AppendJsonString(&out, e.error_class);
    out.append(",\"last_at_ms\":");
    AppendInt(&out, e.last_at_ms);
    out.append(",\"count_window\":");
    AppendInt(&out, e.count_window);
    out.push_back('}');
  }
  out.append("],\"error_window_s\":");
  AppendInt(&out, settings.error_window_s);
  // The store's health as the downloads last saw it (live, not cached).
  out.append(",\"storage\":{\"state\":");
  std::string_view storage_state = "ok";
  double since = 0;
  for (std::string_view reason : {metric::kStorageDiskFull, metric::kStorageReadOnly}) {
    const double v = metrics.GetGauge(metric::kStorageProblem, {{"reason", reason}}).value();
    if (v > 0) {
      storage_state = reason;
      since = v;
    }
  }
  AppendJsonString(&out, storage_state);
  if (since > 0) {
    out.append(",\"since_s\":");
    AppendInt(&out, static_cast<int64_t>(since));
    out.append(",\"downloads\":\"paused\"");
  }
  out.append("}}\n");
  return out;
}

http::response<http::string_body> StatusServer::Impl::Handle(
    const http::request<http::string_body>& req) {
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  auto reply = [&](http::status status, std::string body) {
    res.result(status);
    res.body() = std::move(body);
  };
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));

  if (req.method() != http::verb::get) {
    res.set(http::field::allow, "GET");
    reply(http::status::method_not_allowed, "method not allowed\n");
  } else if (!options.token.empty() &&
             !ConstantTimeEquals(std::string_view(req[http::field::authorization].data(),
                                                  req[http::field::authorization].size()),
                                 "Bearer " + options.token)) {
    res.set(http::field::www_authenticate, "Bearer realm=\"p2p-ingestd\"");
    reply(http::status::unauthorized, "unauthorized\n");
  } else if (path == "/healthz") {
    reply(http::status::ok, "ok");
  } else if (path == "/readyz") {
    if (sqlite3_db_readonly(db.handle(), "main") != 0) {
      reply(http::status::service_unavailable, "not ready: state database is read-only\n");
    } else if (ready && !ready()) {
      reply(http::status::service_unavailable, "not ready: member source not ready\n");
    } else if (std::string refused = RejectedPayers(); !refused.empty()) {
      reply(http::status::service_unavailable, "not ready: " + refused + "\n");
    } else {
      reply(http::status::ok, "ready\n");
    }
  } else if (path == "/status") {
    res.set(http::field::content_type, "application/json");
    if (const StatusSnapshot* snap = Cached()) {
      reply(http::status::ok, StatusJson(*snap));
    } else {
      reply(http::status::service_unavailable, "{\"error\":\"state database unavailable\"}\n");
    }
  } else if (path == "/metrics") {
    Cached();  // refreshes the DB gauges; on a DB error the last values stay
    if (settings.payer_conditions) {
      const int64_t now = settings.now_ms();
      for (const PayerCondition& c : settings.payer_conditions()) {
        const int64_t left = std::max<int64_t>(0, c.throttled_until_ms - now);
        metrics.GetGauge(metric::kPayerThrottled, {{"payer", c.payer}})
            .Set(c.throttled_until_ms == 0 ? 0.0 : static_cast<double>(left) / 1000.0);
        metrics.GetGauge(metric::kPayerAuthRejected, {{"payer", c.payer}})
            .Set(c.auth_rejected ? 1.0 : 0.0);
      }
    }
    if (const int64_t rss = ResidentBytes(); rss >= 0) {
      metrics.GetGauge(metric::kResidentMemory).Set(static_cast<double>(rss));
    }
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    reply(http::status::ok, metrics.RenderPrometheus());
  } else {
    reply(http::status::not_found, "not found\n");
  }
  res.prepare_payload();
  return res;
}

void StatusServer::Impl::FinalizeQueries() {
  for (state::Stmt* st :
       {&by_state, &payer_deadline, &next_class, &class_last, &class_window}) {
    *st = state::Stmt();
  }
}

awaitable<void> StatusServer::Impl::Accept(std::shared_ptr<Impl> self) {
  net::steady_timer backoff(self->io);
  while (!self->stopped) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await self->acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (self->stopped || ec == net::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE and friends: do not spin.
      spdlog::warn("status: accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    if (self->sessions.size() >= static_cast<size_t>(self->settings.max_connections)) {
      socket.close(ec);
      continue;
    }
    net::co_spawn(self->io, Session(self, std::move(socket)), net::detached);
  }
}

awaitable<void> StatusServer::Impl::Session(std::shared_ptr<Impl> self, tcp::socket socket) {
  const StatusServerSettings& settings = self->settings;
  beast::tcp_stream stream(std::move(socket));
  const uint64_t id = self->next_session++;
  self->sessions.emplace(id, &stream);
  beast::flat_buffer buffer(settings.header_limit + settings.body_limit + 1024);
  for (;;) {
    boost::system::error_code ec;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(settings.header_limit));
    parser.body_limit(settings.body_limit);
    stream.expires_after(settings.read_timeout);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (self->stopped) break;
    std::optional<http::status> refuse;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      refuse = http::status::request_header_fields_too_large;
    } else if (ec == http::error::body_limit) {
      refuse = http::status::payload_too_large;
    } else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      refuse = http::status::bad_request;
    } else if (ec) {
      break;  // closed, timed out, reset
    }
    http::response<http::string_body> res;
    if (refuse) {
      res = http::response<http::string_body>{*refuse, 11};
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = std::string(http::obsolete_reason(*refuse)) + "\n";
      res.keep_alive(false);
      res.prepare_payload();
    } else {
      res = self->Handle(parser.get());
      res.keep_alive(parser.get().keep_alive());
    }
    stream.expires_after(settings.write_timeout);
    co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
    if (ec || self->stopped) break;
    if (refuse) {
      // Lingering close: read what the client still sends until it closes (or briefly), so that
      // closing with unread bytes does not reset the connection before it read our answer.
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream.expires_after(std::chrono::milliseconds(500));
      char sink[4096];
      while (!ec && !self->stopped) {
        co_await stream.async_read_some(net::buffer(sink),
                                        net::redirect_error(net::use_awaitable, ec));
      }
      break;
    }
    if (!res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  self->sessions.erase(id);
}

StatusServer::StatusServer(boost::asio::io_context& io, const StatusOptions& options,
                           state::StateDb& db, Metrics& metrics, std::function<bool()> ready,
                           StatusServerSettings settings)
    : impl_(std::make_shared<Impl>(io, options, db, metrics, std::move(ready),
                                   std::move(settings))) {}

StatusServer::~StatusServer() { Stop(); }

std::vector<std::string_view> StatusServer::Queries() {
  return {kByStateSql, kPayerDeadlineSql, kNextErrorClassSql, kErrorLastSql, kErrorWindowSql};
}

Result<std::string> StatusServer::Start() {
  Impl& s = *impl_;
  if (s.started) return MakeError(ErrorKind::kInternal, "status server: already started");
  std::string host;
  uint16_t port = 0;
  if (!SplitListen(s.options.listen, &host, &port)) {
    return MakeError(ErrorKind::kInvalid,
                     "status.listen: \"" + s.options.listen + "\": must be HOST:PORT");
  }
  auto addr = ParseHost(host);
  if (!addr) {
    return MakeError(ErrorKind::kInvalid, "status.listen: \"" + s.options.listen +
                                              "\": HOST must be an IP address or localhost");
  }
  if (!IsLoopback(*addr) && s.options.token.empty()) {
    return MakeError(ErrorKind::kInvalid,
                     "status.listen: " + s.options.listen +
                         " is not a loopback address: a token is required (status.token_file, "
                         "token_env or token_credential)");
  }

  sqlite3* h = s.db.handle();
  struct Prep {
    state::Stmt* stmt;
    std::string_view sql;
  };
  for (const Prep& p :
       {Prep{&s.by_state, kByStateSql}, Prep{&s.payer_deadline, kPayerDeadlineSql},
        Prep{&s.next_class, kNextErrorClassSql}, Prep{&s.class_last, kErrorLastSql},
        Prep{&s.class_window, kErrorWindowSql}}) {
    auto st = state::Stmt::Prepare(h, p.sql);
    if (!st) return std::move(st).error();
    *p.stmt = std::move(st).value();
  }

  const tcp::endpoint endpoint(*addr, port);
  boost::system::error_code ec;
  auto fail = [&](std::string_view step) {
    boost::system::error_code ignored;
    s.acceptor.close(ignored);
    return MakeError(ErrorKind::kIo, "status.listen: " + s.options.listen + ": " +
                                         std::string(step) + ": " + ec.message());
  };
  if (s.acceptor.open(endpoint.protocol(), ec); ec) return fail("open");
  if (s.acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) return fail("option");
  if (s.acceptor.bind(endpoint, ec); ec) return fail("bind");
  if (s.acceptor.listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen");
  const tcp::endpoint bound = s.acceptor.local_endpoint(ec);
  if (ec) return fail("local address");

  s.started = true;
  const int64_t start_s = s.settings.now_ms() / 1000;  // whole seconds
  s.metrics.GetGauge(metric::kStartTime).Set(static_cast<double>(start_s));
  s.metrics.GetGauge(metric::kBuildInfo, {{"version", P2P_VERSION}}).Set(1);
  net::co_spawn(s.io, Impl::Accept(impl_), net::detached);

  const std::string ip = bound.address().to_string();
  return (bound.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(bound.port());
}

void StatusServer::Stop() {
  Impl& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  boost::system::error_code ignored;
  s.acceptor.close(ignored);
  for (auto& [id, stream] : s.sessions) stream->socket().close(ignored);
  s.FinalizeQueries();  // the DB may close once Stop() returns
  s.cache.reset();
}

Result<StatusSnapshot> StatusServer::ReadSnapshot() {
  if (!impl_->started || impl_->stopped) {
    return MakeError(ErrorKind::kInternal, "status server: not running");
  }
  return impl_->Read();
}

}  // namespace p2p
