#include "pipeline/cluster_wake.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "state/state_db.h"

namespace p2p::pipeline {

namespace asio = boost::asio;

ClusterWake::ClusterWake(asio::io_context& io, state::PgConnOptions options,
                         std::function<void(const std::string&)> on_wake,
                         Millis reconnect_interval)
    : io_(io),
      options_(std::move(options)),
      on_wake_(std::move(on_wake)),
      reconnect_interval_(reconnect_interval),
      retry_(io),
      finished_(io) {
  finished_.expires_at(asio::steady_timer::time_point::max());
}

ClusterWake::~ClusterWake() { Drop(); }

void ClusterWake::Start() {
  running_ = true;
  asio::co_spawn(io_, Loop(), asio::detached);
}

void ClusterWake::Stop() {
  stopping_ = true;
  retry_.cancel();
  if (socket_) socket_->cancel();
}

asio::awaitable<void> ClusterWake::Stopped() {
  while (running_) {
    boost::system::error_code ec;
    co_await finished_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void ClusterWake::Drop() {
  if (socket_) {
    socket_->release();  // libpq owns the descriptor and closes it in PQfinish
    socket_.reset();
  }
  session_.Close();
  listening_ = false;
}

bool ClusterWake::Listen() {
  auto c = session_.Connect(options_.dsn, options_.password, "state.dsn");
  if (c) {
    auto l = session_.Exec("listen", std::string("LISTEN ") + state::StateDb::kWakeChannel);
    if (!l) c = std::move(l).error();
  }
  if (!c) {
    if (!outage_logged_) {
      spdlog::warn("cluster: wake-ups: {} (falling back to looking once a second)",
                   c.error().message);
      outage_logged_ = true;
    }
    session_.Close();
    return false;
  }
  if (outage_logged_) spdlog::info("cluster: wake-ups: listening again");
  outage_logged_ = false;
  socket_ = std::make_unique<asio::posix::stream_descriptor>(io_, PQsocket(session_.conn()));
  listening_ = true;
  return true;
}

bool ClusterWake::Drain() {
  PGconn* conn = session_.conn();
  if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) return false;
  while (PGnotify* n = PQnotifies(conn)) {
    const std::string payer = n->extra != nullptr ? n->extra : "";
    PQfreemem(n);
    ++received_;
    on_wake_(payer);
  }
  return true;
}

asio::awaitable<void> ClusterWake::Loop() {
  while (!stopping_) {
    if (!listening_ && !Listen()) {
      retry_.expires_after(reconnect_interval_);
      boost::system::error_code ec;
      co_await retry_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    boost::system::error_code ec;
    co_await socket_->async_wait(asio::posix::stream_descriptor::wait_read,
                                 asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    if (ec || !Drain()) {
      if (!outage_logged_) {
        spdlog::warn("cluster: wake-ups: connection lost (falling back to looking once a second)");
        outage_logged_ = true;
      }
      Drop();
    }
  }
  Drop();
  running_ = false;
  finished_.cancel();
}

}  // namespace p2p::pipeline
