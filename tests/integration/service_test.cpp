// p2p-ingestd as a systemd service: sd_notify messages on a fake NOTIFY_SOCKET, SIGHUP reloads
// with a good and a bad configuration, SIGTERM.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <thread>

#include "integration/daemon_harness.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

// A datagram socket standing in for systemd's notification socket.
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~FakeNotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool bound() const { return bound_; }

  // Collects messages until one starts with `want` or the timeout passes.
  bool WaitFor(const std::string& want, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (const auto& m : seen_) {
        if (m.rfind(want, 0) == 0) return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      std::string msg(buf, static_cast<size_t>(n));
      size_t start = 0;
      while (start < msg.size()) {
        size_t end = msg.find('\n', start);
        if (end == std::string::npos) end = msg.size();
        seen_.push_back(msg.substr(start, end - start));
        start = end + 1;
      }
    }
  }
  int Count(const std::string& prefix) const {
    int n = 0;
    for (const auto& m : seen_) n += m.rfind(prefix, 0) == 0;
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> seen_;
};

bool WaitForLog(const DaemonHarness& h, const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile((h.dir() / "log" / "p2p-ingestd.log").string()).find(text) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(Service, NotifiesReadyStatusAndWatchdogThenStoppingOnSigterm) {
  HarnessOptions o;
  o.members = 20;
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  FakeNotifySocket sock((h.dir() / "notify.sock").string());
  ASSERT_TRUE(sock.bound());
  std::string err;
  auto d = h.StartDaemon(&err, {"NOTIFY_SOCKET=" + (h.dir() / "notify.sock").string(),
                                "WATCHDOG_USEC=200000"});
  ASSERT_NE(d, nullptr) << err;
  EXPECT_TRUE(sock.WaitFor("READY=1", 10s));
  EXPECT_TRUE(sock.WaitFor("STATUS=", 1s));
  EXPECT_TRUE(sock.WaitFor("WATCHDOG=1", 2s));
  // Pings keep coming from the event loop (every 100 ms here).
  int pings = sock.Count("WATCHDOG=1");
  auto until = std::chrono::steady_clock::now() + 5s;
  while (sock.Count("WATCHDOG=1") < pings + 2 && std::chrono::steady_clock::now() < until) {
    sock.WaitFor("(none)", 100ms);
  }
  EXPECT_GE(sock.Count("WATCHDOG=1"), pings + 2);
  d->Signal(SIGTERM);
  EXPECT_TRUE(sock.WaitFor("STOPPING=1", 10s));
  auto code = d->Wait(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

TEST(Service, SighupAppliesAGoodConfigAndKeepsTheRunningOneWhenTheNewIsBad) {
  HarnessOptions o;
  o.members = 10;
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  std::string original = ReadFile(h.config_path());
  std::string err;
  auto d = h.StartDaemon(&err);
  ASSERT_NE(d, nullptr) << err;
  ASSERT_TRUE(WaitForLog(h, "started", 10s));

  // A good new config: the log level and the payer's limits change.
  std::string good = std::regex_replace(original, std::regex("level: debug"), "level: info");
  good = std::regex_replace(good, std::regex("concurrency: 16"), "concurrency: 3");
  { std::ofstream(h.config_path()) << good; }
  d->Signal(SIGHUP);
  EXPECT_TRUE(
      WaitForLog(h, "reload: log level info, payer credentials, limits, retry, poll and export settings applied", 10s));

  // A bad one: rejected with its reason, the daemon goes on with the old configuration.
  std::string bad = std::regex_replace(original, std::regex("concurrency: 16"), "concurrency: 0");
  { std::ofstream(h.config_path()) << bad; }
  d->Signal(SIGHUP);
  EXPECT_TRUE(WaitForLog(h, "the new configuration is rejected; keeping the running one", 10s));
  EXPECT_TRUE(WaitForLog(h, "payers[0].limits.concurrency: must be 1..256", 2s));

  // Still working: members dropped now are ingested.
  h.DropRoster("members.csv");
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (h.CountRows("SELECT COUNT(*) FROM members WHERE state>=6") < 10 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE state>=6"), 10);
  d->Signal(SIGTERM);
  auto code = d->Wait(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace p2p::testing
