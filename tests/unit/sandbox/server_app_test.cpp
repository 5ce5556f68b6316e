#include "sandbox_app.h"

#include <gtest/gtest.h>

namespace p2p::sandbox {
namespace {

constexpr char kTokenPath[] = "/auth/realms/dev-portal/protocol/openid-connect/token";
constexpr char kForm[] = "application/x-www-form-urlencoded";
constexpr char kGoodForm[] =
    "client_id=sandbox-client&client_secret=sandbox-secret&grant_type=client_credentials&"
    "scope=member-match|read";

class SandboxAppTest : public ::testing::Test {
 protected:
  void Start(std::string faults = "", Flavor flavor = Flavor::k1up) {
    ServerOptions options;
    options.synth = SynthOptions{3, 20, 1};
    options.job_delay = std::chrono::milliseconds(0);
    options.flavor = flavor;
    options.clients = {{"sandbox-client", "sandbox-secret"}};
    std::string error;
    options.faults = *ParseFaultSpec(faults, &error);
    app_ = std::make_unique<SandboxApp>(options, "http://files.test:9");
  }

  AppReply Call(std::string_view method, std::string_view target, std::string_view body = "",
                std::string_view auth = "", std::string_view content_type = "",
                bool loopback = true) {
    AppRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.authorization = auth;
    r.content_type = content_type;
    r.from_loopback = loopback;
    return app_->Handle(r);
  }

  std::string Bearer() {
    AppReply token = Call("POST", kTokenPath, kGoodForm, "", kForm);
    EXPECT_EQ(token.status, 200) << token.body;
    size_t at = token.body.find(R"("access_token":")") + 16;
    return "Bearer " + token.body.substr(at, token.body.find('"', at) - at);
  }

  std::string GroupPath(std::string_view suffix = "") {
    return "/v1/bison/bulk-data/r4/Group/" + app_->synth().Member(0).group_id + "/$export" +
           std::string(suffix);
  }

  std::unique_ptr<SandboxApp> app_;
};

TEST_F(SandboxAppTest, TokenIssuesBearerAndEchoesScope) {
  Start();
  AppReply r = Call("POST", kTokenPath, kGoodForm, "", kForm);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.endpoint, Endpoint::kToken);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_NE(r.body.find(R"("token_type":"Bearer","expires_in":3600,"scope":"member-match|read"})"),
            std::string::npos)
      << r.body;
  AppReply basic = Call("POST", kTokenPath, "grant_type=client_credentials",
                        "Basic c2FuZGJveC1jbGllbnQ6c2FuZGJveC1zZWNyZXQ=", kForm);
  EXPECT_EQ(basic.status, 200) << basic.body;
}

TEST_F(SandboxAppTest, TokenErrors) {
  Start();
  AppReply bad_client = Call("POST", kTokenPath,
                             "client_id=sandbox-client&client_secret=wrong&grant_type=client_credentials",
                             "", kForm);
  EXPECT_EQ(bad_client.status, 401);
  EXPECT_EQ(bad_client.body,
            R"({"error":"invalid_client","error_description":"Client authentication failed"})");
  AppReply grant = Call("POST", kTokenPath,
                        "client_id=sandbox-client&client_secret=sandbox-secret&grant_type=password",
                        "", kForm);
  EXPECT_EQ(grant.status, 400);
  EXPECT_NE(grant.body.find(R"("error":"unsupported_grant_type")"), std::string::npos);
  AppReply missing = Call("POST", kTokenPath,
                          "client_id=sandbox-client&client_secret=sandbox-secret", "", kForm);
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find(R"("error":"invalid_request")"), std::string::npos);
  AppReply json = Call("POST", kTokenPath, "{}", "", "application/json");
  EXPECT_EQ(json.status, 400);
  EXPECT_EQ(Call("GET", kTokenPath).status, 405);
}

TEST_F(SandboxAppTest, ProtectedEndpointsNeedAValidBearer) {
  Start();
  AppReply none = Call("GET", GroupPath());
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("Bearer token required"), std::string::npos);
  AppReply wrong = Call("GET", GroupPath(), "", "Bearer nope");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.body.find("Bearer token is invalid or expired"), std::string::npos);
  EXPECT_EQ(Call("POST", "/v1/bison/Patient/$member-match", "{}", "").status, 401);
}

TEST_F(SandboxAppTest, ExportPollAndFileWithPercentEncodedDollar) {
  Start();
  std::string auth = Bearer();
  AppReply kick = Call("GET", "/v1/bison/bulk-data/r4/Group/" + app_->synth().Member(0).group_id +
                                  "/%24export?_type=Patient,ExplanationOfBenefit",
                       "", auth);
  ASSERT_EQ(kick.status, 202) << kick.body;
  for (const auto& h : kick.headers) EXPECT_NE(h.first, "Content-Location");
  size_t at = kick.body.find("Track job at ");
  ASSERT_NE(at, std::string::npos);
  std::string url = kick.body.substr(at + 13, kick.body.find('"', at) - at - 13);
  ASSERT_EQ(url.rfind("http://files.test:9/v1/bison/bulk-data/r4/$export/job/", 0), 0u) << url;
  AppReply status = Call("GET", url.substr(19), "", auth);
  ASSERT_EQ(status.status, 200);
  EXPECT_NE(status.body.find(R"("status":"Successful")"), std::string::npos) << status.body;
  EXPECT_NE(status.body.find(R"("type":"Patient")"), std::string::npos);
  EXPECT_EQ(status.body.find(R"("type":"Encounter")"), std::string::npos);
  size_t f = status.body.find("http://files.test:9/v1/bison/bulk-data/r4/$export/file/Patient_");
  ASSERT_NE(f, std::string::npos);
  std::string file = status.body.substr(f + 19, status.body.find('"', f) - f - 19);
  AppReply download = Call("GET", file, "", auth);
  EXPECT_EQ(download.status, 200);
  ASSERT_TRUE(download.file);
  EXPECT_EQ(download.file->member, 0u);
  EXPECT_EQ(download.content_type, "application/fhir+ndjson");
  EXPECT_EQ(Call("GET", file, "", "").status, 401);
  EXPECT_EQ(Call("GET", "/v1/bison/bulk-data/r4/$export/file/Patient_00000000.ndjson", "", auth).status,
            404);
}

TEST_F(SandboxAppTest, ExportErrors) {
  Start();
  std::string auth = Bearer();
  AppReply unknown = Call("GET", "/v1/bison/bulk-data/r4/Group/nope/$export", "", auth);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("Unknown Group"), std::string::npos);
  EXPECT_EQ(Call("GET", GroupPath("?_type=Nonsense"), "", auth).status, 400);
  EXPECT_EQ(Call("GET", GroupPath("?_since=yesterday"), "", auth).status, 400);
  EXPECT_EQ(Call("GET", "/v1/otter/bulk-data/r4/Group/x/$export", "", auth).status, 404);
  EXPECT_EQ(Call("GET", "/v1/bison/bulk-data/r4/$export/job/none", "", auth).status, 404);
  EXPECT_EQ(Call("GET", "/nowhere").status, 404);
}

TEST_F(SandboxAppTest, BulkV2KickOffHasContentLocationAndManifestCounts) {
  Start("", Flavor::kBulkV2);
  std::string auth = Bearer();
  AppReply kick = Call("GET", GroupPath(), "", auth);
  ASSERT_EQ(kick.status, 202);
  std::string location;
  for (const auto& h : kick.headers) {
    if (h.first == "Content-Location") location = h.second;
  }
  ASSERT_EQ(location.rfind("http://files.test:9/", 0), 0u);
  AppReply manifest = Call("GET", location.substr(19), "", auth);
  ASSERT_EQ(manifest.status, 200);
  EXPECT_NE(manifest.body.find(R"("requiresAccessToken":true,"output":[{"type":"Patient",)"),
            std::string::npos)
      << manifest.body;
  EXPECT_NE(manifest.body.find(R"("count":1})"), std::string::npos);
  EXPECT_NE(manifest.body.find(R"("error":[])"), std::string::npos);
}

TEST_F(SandboxAppTest, FaultsShapeTheReplyAndAreCounted) {
  Start("token:429@every2:retry-after=7,match:reset,export:fail,job:badjson,file:cut,"
        "file:delay=5ms");
  std::string auth = Bearer();
  AppReply throttled = Call("POST", kTokenPath, kGoodForm, "", kForm);
  EXPECT_EQ(throttled.status, 429);
  ASSERT_EQ(throttled.headers.size(), 1u);
  EXPECT_EQ(throttled.headers[0], (std::pair<std::string, std::string>{"Retry-After", "7"}));
  EXPECT_TRUE(Call("POST", "/v1/bison/Patient/$member-match", "{}", auth).reset);
  AppReply kick = Call("GET", GroupPath(), "", auth);
  size_t at = kick.body.find("/v1/bison/bulk-data/r4/$export/job/");
  std::string job = kick.body.substr(at, kick.body.find('"', at) - at);
  AppReply status = Call("GET", job, "", auth);
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(status.body.find("}]}"), std::string::npos);  // cut in half: not JSON
  std::string stats = app_->StatsJson();
  EXPECT_NE(stats.find(R"("requests":{"token":2,"match":1,"export":1,"job":1,"file":0,)"),
            std::string::npos)
      << stats;
  EXPECT_NE(stats.find(R"("429":1)"), std::string::npos);
  EXPECT_NE(stats.find(R"("reset":1)"), std::string::npos);
  EXPECT_NE(stats.find(R"("fail":1)"), std::string::npos);
  EXPECT_NE(stats.find(R"("badjson":1)"), std::string::npos);
}

TEST_F(SandboxAppTest, AdminIsLoopbackOnlyAndReplacesFaults) {
  Start();
  EXPECT_EQ(Call("GET", "/admin/stats", "", "", "", false).status, 403);
  AppReply put = Call("PUT", "/admin/faults", "file:410@every3");
  EXPECT_EQ(put.status, 200);
  EXPECT_EQ(put.body, "file:410@every3\n");
  EXPECT_EQ(Call("GET", "/admin/faults").body, "file:410@every3\n");
  AppReply bad = Call("POST", "/admin/faults", "file:zzz");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body.rfind("fault rule 1", 0), 0u);
}

}  // namespace
}  // namespace p2p::sandbox
