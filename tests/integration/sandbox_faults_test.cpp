// Every fault kind of p2p-sandbox, set at run time through the loopback admin endpoint, seen
// both from the client side and in /admin/stats.
#include <simdjson.h>

#include <gtest/gtest.h>

#include <thread>

#include "support/http_client.h"
#include "support/sandbox_process.h"

namespace p2p::testing {
namespace {

constexpr char kSeedBody[] =
    R"({"resourceType":"Parameters","parameter":[{"name":"MemberPatient","resource":{"name":[{"given":["Jay"],"family":"Young"}],"birthDate":"2001-03-11"}},{"name":"CoverageToMatch","resource":{"identifier":[{"value":"17148123-47da-43a0-8401-8d5d1368db02"}]}},{"name":"Consent","resource":{"resourceType":"Consent","status":"active","policy":[{"uri":"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular"}],"provision":{"type":"permit","period":{"start":"2022-01-01","end":"2035-01-31"}}}}]})";

class SandboxFaultsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string error;
    sandbox_ = StartSandbox({"--job-delay", "0ms", "--flavor", GetParam(), "--seed", "5"}, &error);
    ASSERT_TRUE(sandbox_) << error;
    client_ = std::make_unique<HttpClient>(sandbox_->url);
    bearer_ = FetchToken(*client_);
    ASSERT_FALSE(bearer_.empty());
    auth_ = {{"Authorization", "Bearer " + bearer_}};
    HttpResponse m = client_->Post("/v1/bison/member-match-sandbox/$member-match", kSeedBody,
                                   "application/json", auth_);
    ASSERT_EQ(m.status, 200);
    size_t at = m.body.find(R"("name":"groupId","valueString":")") + 32;
    group_ = m.body.substr(at, m.body.find('"', at) - at);
  }

  void SetFaults(const std::string& spec) {
    HttpResponse r = client_->Request("PUT", "/admin/faults", spec);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Faults injected of `kind` so far, from /admin/stats.
  uint64_t Injected(const std::string& kind) {
    HttpClient admin(sandbox_->url);
    HttpResponse r = admin.Get("/admin/stats");
    simdjson::dom::parser parser;
    simdjson::dom::element stats;
    if (r.status != 200 || parser.parse(r.body).get(stats)) return ~0ULL;
    return stats["faults"][kind].get_uint64().value_unsafe();
  }

  // The "blocks" object of /admin/stats, as text.
  std::string BlockStats() {
    HttpClient admin(sandbox_->url);
    HttpResponse r = admin.Get("/admin/stats");
    size_t at = r.body.find(R"("blocks":)");
    return at == std::string::npos ? r.body : r.body.substr(at, r.body.find("}}", at) + 2 - at);
  }

  std::string Kick() { return "/v1/bison/bulk-data/r4/Group/" + group_ + "/$export"; }

  // Kick-off + status; returns the status URL.
  std::string StartJob() {
    HttpResponse kick = client_->Get(Kick(), auth_);
    EXPECT_EQ(kick.status, 202) << kick.body;
    if (GetParam() == "bulk-v2") return kick.Header("Content-Location");
    size_t at = kick.body.find("Track job at ") + 13;
    return kick.body.substr(at, kick.body.find('"', at) - at);
  }

  std::string FirstFileUrl(const std::string& status_url) {
    HttpResponse st = client_->Get(status_url, auth_);
    size_t at = st.body.find("/$export/file/Patient_");
    if (at == std::string::npos) return "";
    size_t start = st.body.rfind('"', at) + 1;
    return st.body.substr(start, st.body.find('"', at) - start);
  }

  std::unique_ptr<SandboxProcess> sandbox_;
  std::unique_ptr<HttpClient> client_;
  std::string bearer_, group_;
  Headers auth_;
};

TEST_P(SandboxFaultsTest, StatusFaultsWithRetryAfter) {
  SetFaults("token:500@every2,match:503:retry-after=3,export:429:retry-after=date,job:404,file:410");
  EXPECT_FALSE(FetchToken(*client_).empty());
  EXPECT_TRUE(FetchToken(*client_).empty());  // every 2nd token request: 500
  HttpResponse m = client_->Post("/v1/bison/member-match-sandbox/$member-match", kSeedBody,
                                 "application/json", auth_);
  EXPECT_EQ(m.status, 503);
  EXPECT_EQ(m.Header("Retry-After"), "3");
  HttpResponse k = client_->Get(Kick(), auth_);
  EXPECT_EQ(k.status, 429);
  EXPECT_NE(k.Header("Retry-After").find(" GMT"), std::string::npos) << k.Header("Retry-After");
  SetFaults("job:404");
  std::string status = StartJob();
  EXPECT_EQ(client_->Get(status, auth_).status, 404);
  SetFaults("file:410");
  EXPECT_EQ(client_->Get(sandbox_->url + "/v1/bison/bulk-data/r4/$export/file/Patient_0.ndjson", auth_).status,
            410);
  EXPECT_EQ(Injected("500"), 1u);
  EXPECT_EQ(Injected("503"), 1u);
  EXPECT_EQ(Injected("429"), 1u);
  EXPECT_EQ(Injected("404"), 1u);
  EXPECT_EQ(Injected("410"), 1u);
}

TEST_P(SandboxFaultsTest, ResetClosesBeforeHeaders) {
  SetFaults("export:reset");
  HttpResponse r = client_->Get(Kick(), auth_);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(Injected("reset"), 1u);
  SetFaults("none");
  EXPECT_EQ(client_->Get(Kick(), auth_).status, 202);  // a fresh connection works again
}

TEST_P(SandboxFaultsTest, CutTruncatesTheNdjsonBody) {
  std::string file = FirstFileUrl(StartJob());
  ASSERT_FALSE(file.empty());
  HttpResponse full = client_->Get(file, auth_);
  ASSERT_EQ(full.status, 200);
  SetFaults("file:cut");
  HttpResponse cut = client_->Get(file, auth_);
  EXPECT_FALSE(cut.ok());
  EXPECT_EQ(cut.status, 200);
  EXPECT_LT(cut.body.size(), full.body.size());
  EXPECT_EQ(full.body.compare(0, cut.body.size(), cut.body), 0);
  EXPECT_EQ(Injected("cut"), 1u);
}

TEST_P(SandboxFaultsTest, BadJsonOnStatusAndFile) {
  std::string status = StartJob();
  std::string file = FirstFileUrl(status);
  SetFaults("job:badjson,file:badjson");
  HttpResponse st = client_->Get(status, auth_);
  EXPECT_EQ(st.status, 200);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_TRUE(parser.parse(st.body).get(doc)) << "status body must not parse: " << st.body;
  HttpResponse f = client_->Get(file, auth_);
  ASSERT_EQ(f.status, 200);
  std::string first_line = f.body.substr(0, f.body.find('\n'));
  EXPECT_TRUE(parser.parse(first_line).get(doc));
  EXPECT_EQ(Injected("badjson"), 2u);
}

TEST_P(SandboxFaultsTest, FailedJob) {
  SetFaults("job:fail");
  HttpResponse st = client_->Get(StartJob(), auth_);
  if (GetParam() == "1up") {
    EXPECT_EQ(st.status, 200);
    EXPECT_NE(st.body.find(R"("status":"Failed")"), std::string::npos) << st.body;
  } else {
    EXPECT_EQ(st.status, 500);
    EXPECT_NE(st.body.find("Export job failed"), std::string::npos);
  }
  SetFaults("export:fail");
  HttpResponse again = client_->Get(StartJob(), auth_);
  EXPECT_EQ(again.status, GetParam() == "1up" ? 200 : 500);
  EXPECT_EQ(Injected("fail"), 2u);
}

TEST_P(SandboxFaultsTest, DelayHoldsTheAnswer) {
  SetFaults("token:delay=150ms");
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(FetchToken(*client_).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  EXPECT_EQ(Injected("delay"), 1u);
}

TEST_P(SandboxFaultsTest, ExpireShortensTokenLifeSilently) {
  SetFaults("token:expire=0s");
  HttpResponse t = client_->Post("/auth/realms/dev-portal/protocol/openid-connect/token",
                                 "client_id=sandbox-client&client_secret=sandbox-secret&"
                                 "grant_type=client_credentials",
                                 "application/x-www-form-urlencoded");
  ASSERT_EQ(t.status, 200);
  EXPECT_NE(t.body.find(R"("expires_in":3600)"), std::string::npos);  // advertised as usual
  size_t at = t.body.find(R"("access_token":")") + 16;
  std::string short_lived = t.body.substr(at, t.body.find('"', at) - at);
  HttpResponse r = client_->Get(Kick(), {{"Authorization", "Bearer " + short_lived}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(client_->Get(Kick(), auth_).status, 202);  // older tokens are unaffected
  EXPECT_EQ(Injected("expire"), 1u);
}

TEST_P(SandboxFaultsTest, RatesRepeatWhenTheSameSpecIsInstalledAgain) {
  auto pattern = [&] {
    SetFaults("any:503@0.5");
    std::string p;
    for (int i = 0; i < 16; ++i) p += client_->Get(Kick(), auth_).status == 503 ? '1' : '0';
    return p;
  };
  std::string first = pattern();
  EXPECT_EQ(pattern(), first);
  EXPECT_NE(first.find('1'), std::string::npos);
  EXPECT_NE(first.find('0'), std::string::npos);
  HttpResponse spec = client_->Get("/admin/faults");
  EXPECT_EQ(spec.body, "any:503@0.5\n");
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_P(SandboxFaultsTest, BlockRefusesTheClientUntilItEnds) {
  SetFaults("any:block=3/10s:600ms:retry-after=epoch-ms");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client_->Get(Kick(), auth_).status, 202);
  const int64_t before = NowMs();
  HttpResponse refused = client_->Get(Kick(), auth_);
  ASSERT_EQ(refused.status, 429) << refused.body;
  EXPECT_NE(refused.body.find(R"("code":"throttled")"), std::string::npos) << refused.body;
  const int64_t until = std::stoll(refused.Header("Retry-After"));
  EXPECT_GE(until, before + 600);
  EXPECT_LE(until, NowMs() + 600);
  EXPECT_TRUE(FetchToken(*client_).empty());  // the same client at the token endpoint
  EXPECT_EQ(client_->Get("/admin/faults").status, 200);  // admin is never blocked
  // Refused until the announced end, then served again.
  uint64_t refusals = 2;
  int64_t served_at = 0;
  while (served_at == 0 && NowMs() < before + 5000) {
    HttpResponse r = client_->Get(Kick(), auth_);
    if (r.status == 202) {
      served_at = NowMs();
    } else {
      ASSERT_EQ(r.status, 429);
      ++refusals;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_NE(served_at, 0) << "still blocked 5 s later";
  EXPECT_GE(served_at, until);
  EXPECT_EQ(BlockStats(), R"("blocks":{"started":1,"refused":)" + std::to_string(refusals) +
                              R"(,"refused_by_endpoint":{"token":1,"match":0,"export":)" +
                              std::to_string(refusals - 1) + R"(,"job":0,"file":0}})");
  EXPECT_EQ(Injected("block"), refusals);
}

INSTANTIATE_TEST_SUITE_P(Flavors, SandboxFaultsTest, ::testing::Values("1up", "bulk-v2"),
                         [](const auto& info) { return info.param == "1up" ? "OneUp" : "BulkV2"; });

}  // namespace
}  // namespace p2p::testing
