#include "systemd_notifier.h"

#include <systemd/sd-daemon.h>

namespace p2p::daemon {

SystemdNotifier::SystemdNotifier(boost::asio::io_context& io,
                                 std::function<std::string()> status_line,
                                 std::chrono::milliseconds status_every)
    : status_line_(std::move(status_line)),
      status_every_(status_every),
      watchdog_timer_(io),
      status_timer_(io) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ = std::chrono::microseconds(usec);
}

void SystemdNotifier::Ready() {
  Status(status_line_());
  sd_notify(0, "READY=1");
  if (watchdog_.count() > 0) {
    sd_notify(0, "WATCHDOG=1");
    ArmWatchdog();
  }
  ArmStatus();
}

void SystemdNotifier::Stopping() {
  stopping_ = true;
  sd_notify(0, "STOPPING=1");
  watchdog_timer_.cancel();
  status_timer_.cancel();
}

void SystemdNotifier::Status(const std::string& line) {
  sd_notify(0, ("STATUS=" + line).c_str());
}

void SystemdNotifier::Reloading() { sd_notify(0, "RELOADING=1"); }

void SystemdNotifier::Reloaded() {
  sd_notify(0, "READY=1");
  Status(status_line_());
}

void SystemdNotifier::ArmWatchdog() {
  // The ping comes from the event loop itself: if the loop is stuck, pings stop.
  watchdog_timer_.expires_after(watchdog_ / 2);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    sd_notify(0, "WATCHDOG=1");
    ArmWatchdog();
  });
}

void SystemdNotifier::ArmStatus() {
  status_timer_.expires_after(status_every_);
  status_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    Status(status_line_());
    ArmStatus();
  });
}

}  // namespace p2p::daemon
