// The block fault at the SandboxApp level: who a client is, the 429 and its Retry-After, the
// admin endpoint's exemption and counts.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "app_call.h"
#include "sandbox_app.h"

namespace p2p::sandbox {
namespace {

constexpr char kTokenPath[] = "/auth/realms/dev-portal/protocol/openid-connect/token";
constexpr char kForm[] = "application/x-www-form-urlencoded";
constexpr char kGoodForm[] =
    "client_id=sandbox-client&client_secret=sandbox-secret&grant_type=client_credentials";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SandboxBlockTest : public ::testing::Test {
 protected:
  void Start(const std::string& faults) {
    ServerOptions options;
    options.synth = SynthOptions{3, 20, 1};
    options.job_delay = std::chrono::milliseconds(0);
    options.clients = {{"sandbox-client", "sandbox-secret"}, {"other", "pw"}};
    std::string error;
    auto spec = ParseFaultSpec(faults, &error);
    ASSERT_TRUE(spec) << error;
    options.faults = *spec;
    app_ = std::make_unique<SandboxApp>(options, "http://files.test:9");
  }

  AppReply Call(std::string_view method, std::string_view target, std::string_view body = "",
                std::string_view auth = "", std::string_view content_type = "",
                std::string_view peer = "127.0.0.1") {
    return testing::CallApp(*app_, method, target, {body, auth, content_type, peer});
  }

  std::string Bearer(std::string_view form = kGoodForm) {
    AppReply token = Call("POST", kTokenPath, form, "", kForm);
    EXPECT_EQ(token.status, 200) << token.body;
    size_t at = token.body.find(R"("access_token":")") + 16;
    return "Bearer " + token.body.substr(at, token.body.find('"', at) - at);
  }

  std::string Kick() {
    return "/v1/bison/bulk-data/r4/Group/" + app_->synth().Member(0).group_id + "/$export";
  }

  static std::string RetryAfter(const AppReply& reply) {
    for (const auto& [name, value] : reply.headers) {
      if (name == "Retry-After") return value;
    }
    return "";
  }

  std::unique_ptr<SandboxApp> app_;
};

TEST_F(SandboxBlockTest, TheClientsTokenAndBearerRequestsShareOneWindow) {
  Start("any:block=3/10s:5s");
  const std::string bearer = Bearer();                 // 1: the token request's client_id
  EXPECT_EQ(Call("GET", Kick(), "", bearer).status, 202);  // 2: the token's client
  EXPECT_EQ(Call("GET", Kick(), "", bearer).status, 202);  // 3
  AppReply refused = Call("GET", Kick(), "", bearer);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(RetryAfter(refused), "5");
  EXPECT_EQ(refused.content_type, "application/fhir+json");
  EXPECT_NE(refused.body.find(R"("code":"throttled")"), std::string::npos) << refused.body;
  // The token endpoint refuses the same client, with Basic credentials too.
  EXPECT_EQ(Call("POST", kTokenPath, kGoodForm, "", kForm).status, 429);
  EXPECT_EQ(Call("POST", kTokenPath, "grant_type=client_credentials",
                 "Basic c2FuZGJveC1jbGllbnQ6c2FuZGJveC1zZWNyZXQ=", kForm)
                .status,
            429);
  // Another client, and requests that name no known client (keyed by peer), are not blocked.
  EXPECT_EQ(Call("GET", Kick(), "", Bearer("client_id=other&client_secret=pw&"
                                           "grant_type=client_credentials"))
                .status,
            202);
  EXPECT_EQ(Call("GET", Kick(), "", "", "", "10.0.0.2").status, 401);
  // Admin endpoints are never blocked, and count the refusals.
  AppReply stats = Call("GET", "/admin/stats");
  ASSERT_EQ(stats.status, 200);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(stats.body).get(doc)) << stats.body;
  EXPECT_EQ(uint64_t(doc["blocks"]["started"]), 1u) << stats.body;
  EXPECT_EQ(uint64_t(doc["blocks"]["refused"]), 3u);
  EXPECT_EQ(uint64_t(doc["blocks"]["refused_by_endpoint"]["export"]), 1u);
  EXPECT_EQ(uint64_t(doc["blocks"]["refused_by_endpoint"]["token"]), 2u);
  EXPECT_EQ(uint64_t(doc["blocks"]["refused_by_endpoint"]["file"]), 0u);
  EXPECT_EQ(uint64_t(doc["faults"]["block"]), 3u);
}

TEST_F(SandboxBlockTest, RetryAfterInEachForm) {
  for (const char* form : {"seconds", "date", "epoch", "epoch-ms"}) {
    SCOPED_TRACE(form);
    Start(std::string("export:block=1/10s:5s:retry-after=") + form);
    const std::string bearer = Bearer();
    EXPECT_EQ(Call("GET", Kick(), "", bearer).status, 202);
    const int64_t before = NowMs();
    AppReply refused = Call("GET", Kick(), "", bearer);
    const int64_t after = NowMs();
    ASSERT_EQ(refused.status, 429);
    const std::string value = RetryAfter(refused);
    if (std::string_view(form) == "seconds") {
      EXPECT_EQ(value, "5");
    } else if (std::string_view(form) == "date") {
      ASSERT_EQ(value.size(), 29u) << value;  // "Sun, 06 Nov 1994 08:49:37 GMT"
      EXPECT_EQ(value.substr(25), " GMT");
      EXPECT_EQ(value[3], ',');
    } else if (std::string_view(form) == "epoch") {
      const int64_t v = std::stoll(value);
      EXPECT_GE(v, (before + 5000) / 1000);
      EXPECT_LE(v, (after + 5000) / 1000 + 1);
    } else {
      const int64_t v = std::stoll(value);
      EXPECT_GE(v, before + 5000);
      EXPECT_LE(v, after + 5000);
    }
  }
}

}  // namespace
}  // namespace p2p::sandbox
