// /status and /metrics of a daemon on the PostgreSQL job state: the counts are the cluster's
// (read from the database), the "cluster" object names this instance, the live instances and
// the jobs leased to it; /metrics has p2p_cluster_instances and p2p_instance_leases.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "postgres/pg_daemon_test.h"
#include "support/http_client.h"

namespace p2p::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(PgDaemonTest, StatusShowsTheClusterAndThisInstancesLeases) {
  HarnessOptions o = Options();
  o.state = "postgres";
  o.members = 40;
  o.concurrency = 4;
  o.job_delay = "300ms";  // members stay in flight long enough to be seen
  o.status_listen = "127.0.0.1:0";
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  h.DropRoster("members.csv");
  std::string err;
  auto d = h.StartDaemon(&err);
  ASSERT_NE(d, nullptr) << err;
  std::string url;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  const std::regex where("status endpoint on (http://[0-9.]+:[0-9]+)/status");
  while (url.empty() && std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string log = ReadFile((h.dir() / "log" / "p2p-ingestd.log").string());
    if (std::regex_search(log, m, where)) url = m[1];
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(url.empty());
  HttpClient client(url);
  int64_t most_leases = 0;
  std::string instance;
  int64_t instances = 0;
  bool metrics_seen = false;
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResponse s = client.Get("/status");
    ASSERT_EQ(s.status, 200) << s.error << s.body << ReadFile((h.dir() / "log" / "p2p-ingestd.log").string());
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    ASSERT_EQ(p.parse(s.body).get(doc), simdjson::SUCCESS) << s.body;
    simdjson::dom::element cluster;
    ASSERT_EQ(doc["cluster"].get(cluster), simdjson::SUCCESS) << s.body;
    std::string_view id;
    ASSERT_EQ(cluster["instance"].get(id), simdjson::SUCCESS);
    instance = std::string(id);
    int64_t leases = 0;
    ASSERT_EQ(cluster["instances"].get_int64().get(instances), simdjson::SUCCESS);
    ASSERT_EQ(cluster["leases"].get_int64().get(leases), simdjson::SUCCESS);
    most_leases = std::max(most_leases, leases);
    EXPECT_LE(leases, o.concurrency);
    HttpResponse mx = client.Get("/metrics");
    ASSERT_EQ(mx.status, 200);
    metrics_seen = metrics_seen || (mx.body.find("\np2p_cluster_instances 1") != std::string::npos &&
                                    mx.body.find("\np2p_instance_leases ") != std::string::npos);
    if (h.CountRows("SELECT COUNT(*) FROM members WHERE state>=6") == o.members) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE state>=6"), o.members);
  EXPECT_EQ(instances, 1);
  EXPECT_GT(most_leases, 0);  // seen while members ran
  EXPECT_TRUE(metrics_seen);
  // instance.id defaults to the host name; the token adds the pid and the start time.
  EXPECT_EQ(std::count(instance.begin(), instance.end(), '/'), 2) << instance;
  // What the database says of the instance, by SQL.
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM instances WHERE stopped_ms IS NULL"), 1);
  d->Signal(SIGTERM);
  ASSERT_TRUE(d->Wait(20s).has_value());
  // A clean stop leaves no lease and marks the instance stopped.
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM instances WHERE stopped_ms IS NOT NULL"), 1);
  EXPECT_EQ(h.CountRows("SELECT COUNT(*) FROM members WHERE lease_owner IS NOT NULL"), 0);
}

}  // namespace
}  // namespace p2p::testing
