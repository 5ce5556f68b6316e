// ClusterWake: the wake-ups of a cluster sharing a PostgreSQL job state. It LISTENs on channel
// StateDb::kWakeChannel on a connection of its own, waits for the socket to become readable on
// the io_context (no polling), and calls on_wake(payer) for each notification ("" = every payer):
// another instance took in new members, an operator retried or cancelled a job. When the
// connection drops it is made again every reconnect_interval; until then the scheduler's
// bounded poll (each payer loop looks at least once a second) covers, so a lost notification
// only delays a start by up to that second.
//
// Threading: io_context thread only. Start() once; Stop(), then co_await Stopped() before the
// object goes (the loop is a coroutine that uses it).
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>

#include "core/retry_policy.h"
#include "pg/pg_session.h"
#include "state/postgres/pg_conn.h"

namespace p2p::pipeline {

class ClusterWake {
 public:
  ClusterWake(boost::asio::io_context& io, state::PgConnOptions options,
              std::function<void(const std::string& payer)> on_wake,
              Millis reconnect_interval = Millis(2000));
  ~ClusterWake();
  ClusterWake(const ClusterWake&) = delete;
  ClusterWake& operator=(const ClusterWake&) = delete;

  void Start();
  void Stop();
  boost::asio::awaitable<void> Stopped();
  bool listening() const { return listening_; }
  int64_t received() const { return received_; }  // notifications delivered (tests, status)

 private:
  boost::asio::awaitable<void> Loop();
  // Connects and LISTENs; false (logged once per outage) when it cannot.
  bool Listen();
  // Reads what arrived and delivers every notification; false when the connection is gone.
  bool Drain();
  void Drop();

  boost::asio::io_context& io_;
  state::PgConnOptions options_;
  std::function<void(const std::string&)> on_wake_;
  Millis reconnect_interval_;
  pg::PgSession session_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> socket_;
  boost::asio::steady_timer retry_;
  bool stopping_ = false;
  bool listening_ = false;
  bool outage_logged_ = false;
  int64_t received_ = 0;
  bool running_ = false;
  boost::asio::steady_timer finished_;  // cancelled when the loop has ended
};

}  // namespace p2p::pipeline
