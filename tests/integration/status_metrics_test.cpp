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
  o.concurrency = 4;
  o.job_delay = "300ms";  // long enough to be seen mid-run
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

  // During the run: /status and /metrics tell the same story, and it adds up.
  int scrapes_mid_run = 0;
  double resources_seen = 0;
  double requests_seen = 0;
  while (scrapes_mid_run < 3 && std::chrono::steady_clock::now() < deadline + 60s) {
    // /status, /metrics, /status: the numbers are compared only when both /status answers come
    // from the same snapshot (the endpoint refreshes its DB numbers at most once a second).
    HttpResponse s1 = client.Get("/status");
    HttpResponse mx = client.Get("/metrics");
    HttpResponse s2 = client.Get("/status");
    ASSERT_EQ(s1.status, 200) << s1.error;
    ASSERT_EQ(mx.status, 200) << mx.error;
    simdjson::dom::parser p1;
    simdjson::dom::element d1;
    ASSERT_EQ(p1.parse(s1.body).get(d1), simdjson::SUCCESS);
    int64_t active = 0;
    ASSERT_EQ(d1["members"]["active"].get_int64().get(active), simdjson::SUCCESS);
    if (active == 0) {  // not started yet, or already over
      if (h.CountRows("SELECT COUNT(*) FROM members WHERE state>=6") == o.members) break;
      std::this_thread::sleep_for(20ms);
      continue;
    }
    // The members object of both /status answers must be equal (same snapshot).
    const std::string members1 = s1.body.substr(s1.body.find("\"members\""),
                                                s1.body.find("\"sla\"") - s1.body.find("\"members\""));
    const std::string members2 = s2.body.substr(s2.body.find("\"members\""),
                                                s2.body.find("\"sla\"") - s2.body.find("\"members\""));
    if (members1 != members2) continue;
    ++scrapes_mid_run;
    auto m = ParseExposition(mx.body);
    int64_t total = 0;
    int64_t by_state_sum = 0;
    ASSERT_EQ(d1["members"]["total"].get_int64().get(total), simdjson::SUCCESS);
    for (auto field : d1["members"]["by_state"].get_object()) {
      int64_t n = 0;
      ASSERT_EQ(field.value.get_int64().get(n), simdjson::SUCCESS);
      by_state_sum += n;
      EXPECT_EQ(m["p2p_members{state=\"" + std::string(field.key) + "\"}"], static_cast<double>(n))
          << field.key;
      EXPECT_EQ(m["p2p_payer_members{payer=\"bison\",state=\"" + std::string(field.key) + "\"}"],
                static_cast<double>(n))
          << field.key;
    }
    EXPECT_EQ(total, o.members);  // the whole roster is taken in at once
    EXPECT_EQ(by_state_sum, total);
    int64_t payer_active = 0;
    ASSERT_EQ(d1["payers"].at(0)["active"].get_int64().get(payer_active), simdjson::SUCCESS);
    EXPECT_EQ(payer_active, active);  // one payer
    EXPECT_EQ(m["p2p_members_active{payer=\"bison\"}"], static_cast<double>(active));
    // Counters only grow.
    const double resources = Sum(m, "p2p_resources_stored_total{");
    const double requests = Sum(m, "p2p_http_requests_total{");
    EXPECT_GE(resources, resources_seen);
    EXPECT_GE(requests, requests_seen);
    resources_seen = resources;
    requests_seen = requests;
    std::this_thread::sleep_for(150ms);
  }
  EXPECT_GE(scrapes_mid_run, 1) << "never scraped while work was in flight";

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
  EXPECT_GE(Sum(m, "p2p_resources_stored_total{"), resources_seen);
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
