#include "status/status_server.h"

// clang-format off
#include <utility>  // before Boost 1.74 asio: awaitable.hpp uses std::exchange
// clang-format on
#include <spdlog/spdlog.h>

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

#include "state/state_db.h"
#include "status/status_queries.h"
#include "status/status_render.h"

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

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
        acceptor(io_in),
        queries(db_in),
        db_gauges(metrics_in) {
    if (!settings.now_ms) settings.now_ms = SystemNowMs;
  }

  // The cached snapshot, re-read when older than cache_ttl; nullptr on a DB error (logged).
  const StatusSnapshot* Cached();
  http::response<http::string_body> Handle(const http::request<http::string_body>& req);
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

  StatusQueries queries;
  std::optional<StatusSnapshot> cache;
  std::chrono::steady_clock::time_point cache_at;
  StatusDbGauges db_gauges;

  uint64_t next_session = 0;
  std::map<uint64_t, beast::tcp_stream*> sessions;
};

const StatusSnapshot* StatusServer::Impl::Cached() {
  const auto now = std::chrono::steady_clock::now();
  if (cache && now - cache_at < settings.cache_ttl) return &*cache;
  auto snap = queries.Read(settings);
  if (!snap) {
    spdlog::warn("status: reading the state DB failed: {}", snap.error().message);
    return nullptr;
  }
  cache = std::move(snap).value();
  cache_at = now;
  db_gauges.Update(*cache);
  return &*cache;
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
    if (std::string problem = db.handle()->WriteProblem(); !problem.empty()) {
      reply(http::status::service_unavailable, "not ready: " + problem + "\n");
    } else if (ready && !ready()) {
      reply(http::status::service_unavailable, "not ready: member source not ready\n");
    } else if (std::string refused = RejectedPayers(settings); !refused.empty()) {
      reply(http::status::service_unavailable, "not ready: " + refused + "\n");
    } else {
      reply(http::status::ok, "ready\n");
    }
  } else if (path == "/status") {
    res.set(http::field::content_type, "application/json");
    if (const StatusSnapshot* snap = Cached()) {
      reply(http::status::ok, RenderStatusJson(*snap, settings, metrics, start));
    } else {
      reply(http::status::service_unavailable, "{\"error\":\"state database unavailable\"}\n");
    }
  } else if (path == "/metrics") {
    Cached();  // refreshes the DB gauges; on a DB error the last values stay
    UpdateScrapeGauges(settings, metrics);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    reply(http::status::ok, metrics.RenderPrometheus());
  } else {
    reply(http::status::not_found, "not found\n");
  }
  res.prepare_payload();
  return res;
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

std::vector<std::string_view> StatusServer::Queries() { return StatusQueries::Sql(); }

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

  if (auto prepared = s.queries.Prepare(); !prepared) return std::move(prepared).error();

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
  s.queries.Finalize();  // the DB may close once Stop() returns
  s.cache.reset();
}

Result<StatusSnapshot> StatusServer::ReadSnapshot() {
  if (!impl_->started || impl_->stopped) {
    return MakeError(ErrorKind::kInternal, "status server: not running");
  }
  return impl_->queries.Read(impl_->settings);
}

}  // namespace p2p
