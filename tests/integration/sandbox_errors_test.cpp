// Every error answer of p2p-sandbox over the wire, plus keep-alive, concurrency, bad flags and
// graceful shutdown.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/child_process.h"
#include "support/http_client.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

constexpr char kTokenPath[] = "/auth/realms/dev-portal/protocol/openid-connect/token";
constexpr char kForm[] = "application/x-www-form-urlencoded";

std::string Body(const std::string& birth_date, const std::string& status = "active",
                 const std::string& end = "2035-01-31") {
  return R"({"resourceType":"Parameters","parameter":[{"name":"MemberPatient","resource":{"name":[{"given":["Jay"],"family":"Young"}],"birthDate":")" +
         birth_date +
         R"("}},{"name":"CoverageToMatch","resource":{"identifier":[{"value":"17148123-47da-43a0-8401-8d5d1368db02"}]}},{"name":"Consent","resource":{"resourceType":"Consent","status":")" +
         status +
         R"(","policy":[{"uri":"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular"}],"provision":{"type":"permit","period":{"start":"2022-01-01","end":")" +
         end + R"("}}}}]})";
}

class SandboxErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    sandbox_ = StartSandbox(
        {"--job-delay", "50ms", "--client", "sandbox-client:sandbox-secret", "--client", "other:pw"},
        &error);
    ASSERT_TRUE(sandbox_) << error;
    client_ = std::make_unique<HttpClient>(sandbox_->url);
  }
  std::unique_ptr<SandboxProcess> sandbox_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(SandboxErrorsTest, TokenEndpointErrors) {
  HttpResponse bad = client_->Post(
      kTokenPath, "client_id=sandbox-client&client_secret=nope&grant_type=client_credentials", kForm);
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.body, R"({"error":"invalid_client","error_description":"Client authentication failed"})");
  HttpResponse grant = client_->Post(
      kTokenPath, "client_id=sandbox-client&client_secret=sandbox-secret&grant_type=password", kForm);
  EXPECT_EQ(grant.status, 400);
  EXPECT_EQ(grant.body,
            R"({"error":"unsupported_grant_type","error_description":"Only client_credentials is supported"})");
  HttpResponse missing =
      client_->Post(kTokenPath, "client_id=sandbox-client&client_secret=sandbox-secret", kForm);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.body, R"({"error":"invalid_request","error_description":"grant_type is required"})");
  // --client replaces the default client; HTTP Basic works too.
  HttpResponse basic = client_->Post(kTokenPath, "grant_type=client_credentials", kForm,
                                     {{"Authorization", "Basic b3RoZXI6cHc="}});
  EXPECT_EQ(basic.status, 200) << basic.body;
}

TEST_F(SandboxErrorsTest, BearerRequiredEverywhere) {
  HttpResponse none = client_->Post("/v1/bison/member-match-sandbox/$member-match", Body("2001-03-11"),
                                    "application/json");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Header("WWW-Authenticate"), "Bearer");
  HttpResponse bogus = client_->Get("/v1/bison/bulk-data/r4/Group/x/$export",
                                    {{"Authorization", "Bearer not-a-token"}});
  EXPECT_EQ(bogus.status, 401);
  EXPECT_EQ(client_->Get("/v1/bison/bulk-data/r4/$export/job/x").status, 401);
  EXPECT_EQ(client_->Get("/v1/bison/bulk-data/r4/$export/file/Patient_00000000.ndjson").status, 401);
}

TEST_F(SandboxErrorsTest, MemberMatchErrors) {
  std::string bearer = FetchToken(*client_, "other", "pw");
  ASSERT_FALSE(bearer.empty());
  Headers auth{{"Authorization", "Bearer " + bearer}};
  auto post = [&](const std::string& body) {
    return client_->Post("/v1/bison/member-match-sandbox/$member-match", body, "application/json",
                         auth);
  };
  HttpResponse no_match = post(Body("2001-03-12"));
  EXPECT_EQ(no_match.status, 422);
  EXPECT_EQ(no_match.body,
            R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"No member matches the submitted demographics and coverage"}]})");
  HttpResponse consent = post(Body("2001-03-11", "active", "2023-01-01"));
  EXPECT_EQ(consent.status, 422);
  EXPECT_EQ(consent.body,
            R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"business-rule","diagnostics":"Consent refused: provision.period does not cover today"}]})");
  HttpResponse malformed = post("{\"resourceType\": \"Parameters\", ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.body.find("Malformed JSON body"), std::string::npos);
  HttpResponse missing = post(R"({"resourceType":"Parameters","parameter":[]})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("Exactly one MemberPatient parameter is required (found 0)"),
            std::string::npos);
  HttpResponse wrong_method = client_->Get("/v1/bison/Patient/$member-match", auth);
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(post(Body("2001-03-11")).status, 200);
}

TEST_F(SandboxErrorsTest, ExportErrors) {
  std::string bearer = FetchToken(*client_);
  Headers auth{{"Authorization", "Bearer " + bearer}};
  HttpResponse unknown = client_->Get("/v1/bison/bulk-data/r4/Group/no-such-group/$export", auth);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("Unknown Group"), std::string::npos);
  EXPECT_EQ(client_->Get("/v1/otter/bulk-data/r4/Group/g/%24export", auth).status, 404);
  EXPECT_EQ(client_->Get("/v1/bison/bulk-data/r4/$export/job/unknown", auth).status, 404);
  EXPECT_EQ(client_->Get("/v1/bison/bulk-data/r4/$export/file/Patient_12345678.ndjson", auth).status,
            404);
  EXPECT_EQ(client_->Get("/not/a/path").status, 404);
}

TEST_F(SandboxErrorsTest, KeepAliveReusesOneConnectionAndManyClientsRunAtOnce) {
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(FetchToken(*client_).empty());
  EXPECT_EQ(client_->connections_opened(), 1);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      HttpClient c(sandbox_->url);
      for (int i = 0; i < 5; ++i) ok += !FetchToken(c).empty();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 80);
}

TEST_F(SandboxErrorsTest, AdminReportsCountsAndSigtermStopsCleanly) {
  FetchToken(*client_);
  HttpResponse stats = client_->Get("/admin/stats");
  ASSERT_EQ(stats.status, 200);
  EXPECT_NE(stats.body.find(R"("requests":{"token":1,)"), std::string::npos) << stats.body;
  sandbox_->process->Signal(SIGTERM);
  EXPECT_EQ(sandbox_->process->Wait(std::chrono::seconds(5)), 0);
}

TEST(SandboxCli, BadFlagsExitTwoWithAClearMessage) {
  CommandResult r = RunCommand(SandboxExecutable(), {"--flavor", "3up"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')), "p2p-sandbox: --flavor: expected 1up or bulk-v2");
  CommandResult faults = RunCommand(SandboxExecutable(), {"--faults", "file:cut@2"});
  EXPECT_EQ(faults.exit_code, 2);
  EXPECT_EQ(faults.err.substr(0, faults.err.find('\n')),
            "p2p-sandbox: --faults: fault rule 1 \"file:cut@2\": bad trigger \"2\" (expected a "
            "rate in 0..1 or everyN)");
}

}  // namespace
}  // namespace p2p::testing
