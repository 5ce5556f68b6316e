// Bulk Data "Delete a Bulk Data Request" in p2p-sandbox: DELETE on a job's status URL answers
// 202 and the job is gone (status and files 404), in both flavors.
#include <gtest/gtest.h>

#include "sandbox_app.h"

namespace p2p::sandbox {
namespace {

constexpr char kTokenPath[] = "/auth/realms/dev-portal/protocol/openid-connect/token";
constexpr char kGoodForm[] =
    "client_id=sandbox-client&client_secret=sandbox-secret&grant_type=client_credentials&"
    "scope=member-match|read";
constexpr char kBase[] = "http://files.test:9";

class SandboxCancelTest : public ::testing::TestWithParam<Flavor> {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.synth = SynthOptions{3, 20, 1};
    options.job_delay = std::chrono::milliseconds(0);
    options.flavor = GetParam();
    options.clients = {{"sandbox-client", "sandbox-secret"}};
    app_ = std::make_unique<SandboxApp>(options, kBase);
    AppReply token = Call("POST", kTokenPath, kGoodForm, "application/x-www-form-urlencoded");
    size_t at = token.body.find(R"("access_token":")") + 16;
    auth_ = "Bearer " + token.body.substr(at, token.body.find('"', at) - at);
  }

  AppReply Call(std::string_view method, std::string_view target, std::string_view body = "",
                std::string_view content_type = "") {
    AppRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.authorization = auth_;
    r.content_type = content_type;
    r.from_loopback = true;
    return app_->Handle(r);
  }

  // Kicks off an export of member 0; returns the status path (without scheme and host).
  std::string KickOff() {
    AppReply kick = Call("GET", "/v1/bison/bulk-data/r4/Group/" +
                                    app_->synth().Member(0).group_id + "/$export");
    EXPECT_EQ(kick.status, 202) << kick.body;
    std::string url;
    for (const auto& [name, value] : kick.headers) {
      if (name == "Content-Location") url = value;
    }
    if (url.empty()) {
      size_t at = kick.body.find("Track job at ");
      url = kick.body.substr(at + 13, kick.body.find('"', at) - at - 13);
    }
    return url.substr(std::string_view(kBase).size());
  }

  std::unique_ptr<SandboxApp> app_;
  std::string auth_;
};

TEST_P(SandboxCancelTest, DeleteAcceptsThenTheJobAndItsFilesAreGone) {
  const std::string job = KickOff();
  AppReply done = Call("GET", job);
  ASSERT_EQ(done.status, 200) << done.body;
  size_t f = done.body.find(std::string(kBase) + "/v1/bison/bulk-data/r4/$export/file/");
  ASSERT_NE(f, std::string::npos) << done.body;
  const std::string file =
      done.body.substr(f + std::string_view(kBase).size(),
                       done.body.find('"', f) - f - std::string_view(kBase).size());

  AppReply cancel = Call("DELETE", job);
  EXPECT_EQ(cancel.status, 202) << cancel.body;
  EXPECT_EQ(cancel.body,
            R"({"resourceType":"OperationOutcome","issue":[{"severity":"information",)"
            R"("code":"informational","diagnostics":"Export job cancelled"}]})");
  EXPECT_EQ(Call("GET", job).status, 404);
  EXPECT_EQ(Call("GET", file).status, 404);
  EXPECT_EQ(Call("DELETE", job).status, 404);
  EXPECT_NE(app_->StatsJson().find(R"("jobs_cancelled":1})"), std::string::npos)
      << app_->StatsJson();
}

TEST_P(SandboxCancelTest, DeleteNeedsABearerAndOnlyTheJobUrlTakesIt) {
  const std::string job = KickOff();
  AppRequest anonymous;
  anonymous.method = "DELETE";
  anonymous.target = job;
  EXPECT_EQ(app_->Handle(anonymous).status, 401);
  AppReply on_export = Call("DELETE", "/v1/bison/bulk-data/r4/Group/" +
                                          app_->synth().Member(0).group_id + "/$export");
  EXPECT_EQ(on_export.status, 405);
  AppReply put = Call("PUT", job);
  EXPECT_EQ(put.status, 405);
  ASSERT_FALSE(put.headers.empty());
  EXPECT_EQ(put.headers.back(), (std::pair<std::string, std::string>{"Allow", "GET, DELETE"}));
  EXPECT_EQ(Call("GET", job).status, 200);  // still there
}

INSTANTIATE_TEST_SUITE_P(Flavors, SandboxCancelTest,
                         ::testing::Values(Flavor::k1up, Flavor::kBulkV2));

}  // namespace
}  // namespace p2p::sandbox
