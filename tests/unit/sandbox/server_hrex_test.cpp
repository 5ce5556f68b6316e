// --hrex 1.1 at the SandboxApp level: $member-match refuses a Consent that breaks hrex-consent
// with 422, and accepts the conforming one; lenient (the default) answers as 1up does.
#include <gtest/gtest.h>

#include "app_call.h"
#include "hrex_consent_example.h"
#include "sandbox_app.h"
#include "support/seed_body.h"

namespace p2p::sandbox {
namespace {

constexpr char kTokenPath[] = "/auth/realms/dev-portal/protocol/openid-connect/token";
constexpr char kMatchPath[] = "/v1/bison/Patient/$member-match";

class SandboxHrexTest : public ::testing::Test {
 protected:
  void Start(HrexMode mode) {
    ServerOptions options;
    options.synth = SynthOptions{1, 20, 1};
    options.clients = {{"c", "s"}};
    options.hrex = mode;
    app_ = std::make_unique<SandboxApp>(options, "http://files.test:9");
    AppReply token = testing::CallApp(
        *app_, "POST", kTokenPath,
        {"client_id=c&client_secret=s&grant_type=client_credentials", "",
         "application/x-www-form-urlencoded"});
    size_t at = token.body.find(R"("access_token":")") + 16;
    bearer_ = "Bearer " + token.body.substr(at, token.body.find('"', at) - at);
  }

  AppReply Match(std::string_view body) {
    return testing::CallApp(*app_, "POST", kMatchPath, {body, bearer_, "application/fhir+json"});
  }

  // The seed body with its Consent replaced by the HRex STU 1.1 example.
  static std::string SeedWithHrexConsent() {
    std::string body = p2p::testing::kSeedMemberMatchBody;
    const size_t start = body.find(R"("resourceType": "Consent")") - 1;  // the '{' before it
    const size_t end = body.rfind("}\n    }\n]");                         // the resource's '}'
    return body.substr(0, body.rfind('{', start + 1)) + p2p::testing::kHrexConsent +
           body.substr(end + 1);
  }

  std::unique_ptr<SandboxApp> app_;
  std::string bearer_;
};

TEST_F(SandboxHrexTest, LenientIsTheDefaultAndAcceptsTheSeedConsent) {
  EXPECT_EQ(ServerOptions{}.hrex, HrexMode::kLenient);
  Start(HrexMode::kLenient);
  EXPECT_EQ(Match(p2p::testing::kSeedMemberMatchBody).status, 200);
}

TEST_F(SandboxHrexTest, StrictRefusesTheSeedConsentWith422) {
  Start(HrexMode::kStrict11);
  AppReply r = Match(p2p::testing::kSeedMemberMatchBody);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.content_type, "application/fhir+json");
  EXPECT_NE(r.body.find(R"({"severity":"error","code":"required","diagnostics":)"
                        R"("Consent.provision.actor: HRex 1.1 (hrex-consent) requires at least 2)"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("expression":["Parameters.parameter[2].resource.provision.actor"])"),
            std::string::npos);
}

TEST_F(SandboxHrexTest, StrictAcceptsTheConformingConsent) {
  Start(HrexMode::kStrict11);
  const std::string body = SeedWithHrexConsent();
  AppReply r = Match(body);
  EXPECT_EQ(r.status, 200) << r.body << "\n" << body;
  EXPECT_NE(r.body.find(R"("name":"groupId")"), std::string::npos);
}

}  // namespace
}  // namespace p2p::sandbox
