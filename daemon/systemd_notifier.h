// Talks to systemd (sd_notify) for a Type=notify service: READY=1 once the daemon is set up,
// STATUS=<one line> kept current, WATCHDOG=1 pings from the event loop at half of WatchdogSec
// (so a stuck loop gets the service restarted), STOPPING=1 on shutdown. Without NOTIFY_SOCKET
// (not under systemd) every call is a cheap no-op.
//
// Threading: io_context thread only. Borrows `status_line`, called every `status_every`.
#pragma once

#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace p2p::daemon {

class SystemdNotifier {
 public:
  SystemdNotifier(boost::asio::io_context& io, std::function<std::string()> status_line,
                  std::chrono::milliseconds status_every = std::chrono::seconds(5));

  // Sends READY=1 and the first STATUS=, and starts the watchdog and status timers.
  void Ready();
  // Sends STOPPING=1 and stops the timers.
  void Stopping();
  // Sends `line` as STATUS= now.
  void Status(const std::string& line);
  // Sends RELOADING=1 / READY=1 around a configuration reload.
  void Reloading();
  void Reloaded();

 private:
  void ArmWatchdog();
  void ArmStatus();

  std::function<std::string()> status_line_;
  std::chrono::milliseconds status_every_;
  std::chrono::microseconds watchdog_{0};  // 0: no watchdog requested
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer status_timer_;
  bool stopping_ = false;
};

}  // namespace p2p::daemon
