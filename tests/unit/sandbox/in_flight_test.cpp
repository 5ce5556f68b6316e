// FHIR requests in flight per tenant: the table itself, and SandboxApp's counting (a reply holds
// its request's flight until the server drops it) with /admin/in-flight and /admin/stats.
#include "in_flight.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "app_call.h"
#include "sandbox_app.h"

namespace p2p::sandbox {
namespace {

using testing::CallApp;

TEST(InFlightTable, CountsPerTenantAndKeepsTheMaximumUntilReset) {
  InFlightTable t;
  EXPECT_EQ(t.Json(), "{}");
  auto a1 = t.Begin("bison");
  auto a2 = t.Begin("bison");
  auto b1 = t.Begin("elk");
  EXPECT_EQ(t.Json(), R"({"bison":{"now":2,"max":2},"elk":{"now":1,"max":1}})");
  a1.reset();
  b1.reset();
  EXPECT_EQ(t.Json(), R"({"bison":{"now":1,"max":2},"elk":{"now":0,"max":1}})");
  t.ResetMax();  // a new window starts from what is in flight now
  EXPECT_EQ(t.Json(), R"({"bison":{"now":1,"max":1},"elk":{"now":0,"max":0}})");
  auto copy = a2;  // a copied reply shares its request's flight
  a2.reset();
  EXPECT_EQ(t.Snapshot().at("bison").now, 1);
  copy.reset();
  EXPECT_EQ(t.Snapshot().at("bison").now, 0);
}

TEST(InFlightTable, ATicketMayOutliveItsTable) {
  InFlightTable::Ticket ticket;
  {
    InFlightTable t;
    ticket = t.Begin("bison");
  }
  ticket.reset();  // ends the flight on the counters it shares; no dangling table
  SUCCEED();
}

class SandboxInFlight : public ::testing::Test {
 protected:
  SandboxInFlight() {
    ServerOptions options;
    options.synth = SynthOptions{3, 20, 1};
    options.job_delay = std::chrono::milliseconds(0);
    options.clients = {{"sandbox-client", "sandbox-secret"}};
    app_ = std::make_unique<SandboxApp>(options, "http://files.test:9");
  }
  std::string InFlight() { return CallApp(*app_, "GET", "/admin/in-flight").body; }

  std::unique_ptr<SandboxApp> app_;
};

TEST_F(SandboxInFlight, FhirRequestsOfAKnownTenantAreInFlightWhileTheirReplyLives) {
  constexpr char kMatch[] = "/v1/bison/member-match-sandbox/$member-match";
  std::vector<AppReply> held;
  // Token requests and other tenants are not counted, nor are refused requests (401) any less.
  testing::CallArgs token;
  token.body = "grant_type=client_credentials";
  held.push_back(
      CallApp(*app_, "POST", "/auth/realms/dev-portal/protocol/openid-connect/token", token));
  held.push_back(CallApp(*app_, "POST", "/v1/elk/member-match-sandbox/$member-match"));
  EXPECT_EQ(InFlight(), "{}");
  held.push_back(CallApp(*app_, "POST", kMatch));
  EXPECT_EQ(held.back().status, 401);
  held.push_back(CallApp(*app_, "GET", "/v1/bison/bulk-data/r4/$export/job/nope"));
  held.push_back(CallApp(*app_, "GET", "/v1/bison/bulk-data/r4/$export/file/Patient_x.ndjson"));
  EXPECT_EQ(InFlight(), R"({"bison":{"now":3,"max":3}})");
  held.pop_back();
  held.pop_back();
  EXPECT_EQ(InFlight(), R"({"bison":{"now":1,"max":3}})");
  const std::string stats = CallApp(*app_, "GET", "/admin/stats").body;
  EXPECT_NE(stats.find(R"("fhir_in_flight":{"bison":{"now":1,"max":3}})"), std::string::npos)
      << stats;
  // DELETE starts a new window: the maximum falls to what is in flight now.
  AppReply reset = CallApp(*app_, "DELETE", "/admin/in-flight");
  EXPECT_EQ(reset.status, 200);
  EXPECT_EQ(reset.body, R"({"bison":{"now":1,"max":1}})");
  held.clear();
  EXPECT_EQ(InFlight(), R"({"bison":{"now":0,"max":1}})");
  EXPECT_EQ(CallApp(*app_, "PUT", "/admin/in-flight").status, 405);
  testing::CallArgs remote;
  remote.from_loopback = false;
  EXPECT_EQ(CallApp(*app_, "DELETE", "/admin/in-flight", remote).status, 403);
}

}  // namespace
}  // namespace p2p::sandbox
