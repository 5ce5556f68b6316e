// The status endpoint and Prometheus metrics of a running daemon, checked against the run.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <chrono>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "integration/daemon_harness.h"
#include "support/http_client.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

// A small Prometheus text-format reader: "name{labels} value" lines, comments skipped.
std::map<std::string, double> ParseExposition(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

double Sum(const std::map<std::string, double>& m, const std::string& prefix) {
  double s = 0;
  for (const auto& [k, v] : m) {
    if (k.rfind(prefix, 0) == 0) s += v;
  }
  return s;
}

TEST(StatusEndpoint, StatusAndMetricsAgreeWithTheRun) {
  HarnessOptions o;
  o.members = 60;
  o.status_listen = "127.0.0.1:0";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  std::string err;
  auto d = h.StartDaemon(&err);
  ASSERT_NE(d, nullptr) << err;
  // The daemon logs where the endpoint listens (port 0 picks a free port).
  std::string url;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  std::regex where("status endpoint on (http://[0-9.]+:[0-9]+)/status");
  while (url.empty() && std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string log = ReadFile((h.dir() / "log" / "p2p-ingestd.log").string());
    if (std::regex_search(log, m, where)) url = m[1];
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(url.empty());
  HttpClient client(url);
  EXPECT_EQ(client.Get("/healthz").body, "ok");

  Expected want = h.LoadExpected();
  int64_t complete = 0;
  for (const auto& [k, outcome] : want.outcome) complete += outcome == "complete";
  while (h.CountRows("SELECT COUNT(*) FROM members WHERE state>=6") < o.members &&
         std::chrono::steady_clock::now() < deadline + 60s) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE state>=6"), o.members);
  std::this_thread::sleep_for(1100ms);  // past the endpoint's 1 s cache of DB numbers

  HttpResponse status = client.Get("/status");
  ASSERT_EQ(status.status, 200) << status.error;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(status.body).get(doc), simdjson::SUCCESS);
  int64_t total = -1, done = -1;
  EXPECT_EQ(doc["members"]["total"].get_int64().get(total), simdjson::SUCCESS);
  EXPECT_EQ(doc["members"]["by_state"]["complete"].get_int64().get(done), simdjson::SUCCESS);
  EXPECT_EQ(total, o.members);
  EXPECT_EQ(done, complete);
  // No PHI: the roster's names never appear.
  EXPECT_EQ(status.body.find("Young"), std::string::npos);

  HttpResponse metrics = client.Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  auto m = ParseExposition(metrics.body);
  EXPECT_EQ(m["p2p_members{state=\"complete\"}"], static_cast<double>(complete));
  size_t stored = 0;
  for (const auto& [type, ids] : want.resources) stored += ids.size();
  EXPECT_EQ(Sum(m, "p2p_resources_stored_total{"), static_cast<double>(stored));
  EXPECT_GT(Sum(m, "p2p_http_requests_total{payer=\"bison\",endpoint=\"member_match\""), 0.0);
  EXPECT_GT(m["p2p_last_success_timestamp_seconds{payer=\"bison\"}"], 1.7e9);
  EXPECT_EQ(metrics.body.find("Young"), std::string::npos);
  EXPECT_EQ(client.Request("POST", "/status").status, 405);

  d->Signal(SIGTERM);
  auto code = d->Wait(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace p2p::testing
