// sandbox/bulk_match.h: $bulk-member-match at p2p-sandbox, its async status, and exports of
// multi-member Groups.
#include "bulk_match.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "hrex_consent_example.h"
#include "sandbox_app.h"

namespace p2p::sandbox {
namespace {

constexpr char kTokenPath[] = "/auth/realms/dev-portal/protocol/openid-connect/token";
constexpr char kKickoff[] = "/v1/bison/Group/$bulk-member-match";

// One MemberBundle as the new payer would send it for roster member `m` (the sandbox's own
// view of the roster row), with MemberPatient id `id`.
std::string Bundle(const SynthMember& m, const std::string& id, const std::string& policy = "") {
  std::string given = m.given.substr(0, m.given.find(' '));
  return R"({"name":"MemberBundle","part":[{"name":"MemberPatient","resource":{"resourceType":"Patient","id":")" +
         id + R"(","name":[{"family":")" + m.family + R"(","given":[")" + given +
         R"("]}],"birthDate":")" + m.roster_birth_date +
         R"("}},{"name":"CoverageToMatch","resource":{"resourceType":"Coverage","identifier":[{"value":")" +
         m.coverage_id +
         R"("}]}},{"name":"Consent","resource":{"resourceType":"Consent","status":"active","policy":[{"uri":"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#)" +
         (policy.empty() ? m.consent_policy : policy) +
         R"("}],"provision":{"type":"permit","period":{"start":"2000-01-01","end":"2099-12-31"}}}}]})";
}

// Bundle() with the HRex STU 1.1 Consent (hrex_consent_example.h), the roster row's policy.
std::string HrexBundle(const SynthMember& m, const std::string& id) {
  const std::string bundle = Bundle(m, id);
  std::string consent = p2p::testing::kHrexConsent;
  consent.replace(consent.find("#regular"), 8, "#" + m.consent_policy);
  return bundle.substr(0, bundle.find(R"({"resourceType":"Consent")")) + consent + "}]}";
}

std::string Request(const std::vector<std::string>& bundles) {
  std::string out = R"({"resourceType":"Parameters","parameter":[)";
  for (size_t i = 0; i < bundles.size(); ++i) out += (i ? "," : "") + bundles[i];
  return out + "]}";
}

class SandboxBulkMatch : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.synth = SynthOptions{11, 12, 1};
    options.job_delay = std::chrono::milliseconds(0);
    options.clients = {{"c", "s"}};
    options.groups = {{"fam", {"M000000000", "M000000001", "nobody"}}};
    app_ = std::make_unique<SandboxApp>(options, "http://files.test:9");
    AppReply token =
        Call("POST", kTokenPath, "client_id=c&client_secret=s&grant_type=client_credentials",
             "application/x-www-form-urlencoded");
    size_t at = token.body.find(R"("access_token":")") + 16;
    bearer_ = "Bearer " + token.body.substr(at, token.body.find('"', at) - at);
    for (uint64_t i = 0; i < app_->synth().size(); ++i) {
      SynthMember m = app_->synth().Member(i);
      if (m.kind == MemberKind::kMatch && !match_) match_ = m;
      if (m.kind == MemberKind::kNoMatch && !no_match_) no_match_ = m;
      if (m.kind == MemberKind::kConsentRefused && !refused_) refused_ = m;
    }
    ASSERT_TRUE(match_ && no_match_ && refused_);
  }

  AppReply Call(std::string_view method, std::string_view target, std::string_view body = "",
                std::string_view content_type = "application/fhir+json") {
    AppRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.authorization = bearer_;
    r.content_type = content_type;
    r.from_loopback = true;
    return app_->Handle(r);
  }

  std::string Today() const { return "2026-06-01"; }

  std::unique_ptr<SandboxApp> app_;
  std::string bearer_;
  std::optional<SynthMember> match_, no_match_, refused_;
};

TEST(RouteBulkMatch, KnowsKickoffAndStatusPaths) {
  EXPECT_EQ(RouteBulkMatch({"v1", "bison", "Group", "$bulk-member-match"}), BulkRoute::kKickoff);
  EXPECT_EQ(RouteBulkMatch({"v1", "bison", "bulk-data", "r4", "Group", "$bulk-member-match"}),
            BulkRoute::kKickoff);
  EXPECT_EQ(RouteBulkMatch({"v1", "bison", "bulk-match", "job", "x"}), BulkRoute::kStatus);
  EXPECT_EQ(RouteBulkMatch({"v1", "bison", "Patient", "$member-match"}), BulkRoute::kNone);
  EXPECT_EQ(RouteBulkMatch({"v1", "bison", "x", "Group", "$bulk-member-match"}), BulkRoute::kNone);
}

TEST_F(SandboxBulkMatch, SortsEachBundleWithTheMemberMatchRules) {
  BulkMatchDecision d = DecideBulkMatch(
      Request({Bundle(*match_, "a"), Bundle(*no_match_, "b"), Bundle(*refused_, "c")}),
      app_->synth(), "bison", Today());
  ASSERT_EQ(d.status, 200) << d.error_body;
  ASSERT_EQ(d.verdicts.size(), 3u);
  EXPECT_EQ(d.verdicts[0].kind, BulkVerdict::kMatched);
  EXPECT_EQ(d.verdicts[0].member, match_->index);
  EXPECT_EQ(d.verdicts[1].kind, BulkVerdict::kNoMatch);
  EXPECT_EQ(d.verdicts[2].kind, BulkVerdict::kConsentConstrained);
  EXPECT_EQ(d.verdicts[2].contained_id, "c");
}

TEST_F(SandboxBulkMatch, DuplicateOrMissingPatientIdsGetOwnContainedIds) {
  BulkMatchDecision d =
      DecideBulkMatch(Request({Bundle(*match_, "same"), Bundle(*no_match_, "same")}), app_->synth(),
                      "bison", Today());
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.verdicts[0].contained_id, "same");
  EXPECT_EQ(d.verdicts[1].contained_id, "member-1");
  EXPECT_EQ(d.verdicts[1].patient_json.rfind(R"({"resourceType":"Patient","id":"member-1",)", 0),
            0u);
}

TEST_F(SandboxBulkMatch, MalformedRequestsAre400WithTheBundleNamed) {
  auto diag = [&](const std::string& body) {
    BulkMatchDecision d = DecideBulkMatch(body, app_->synth(), "bison", Today());
    EXPECT_EQ(d.status, 400);
    return d.error_body;
  };
  EXPECT_NE(diag("{").find("Malformed JSON body"), std::string::npos);
  EXPECT_NE(diag(R"({"resourceType":"Patient"})").find("Body must be a Parameters resource"),
            std::string::npos);
  EXPECT_NE(diag(Request({})).find("At least one MemberBundle parameter is required"),
            std::string::npos);
  std::string no_consent = Bundle(*match_, "a");
  no_consent = no_consent.substr(0, no_consent.find(R"(,{"name":"Consent")")) + "]}";
  EXPECT_NE(diag(Request({Bundle(*match_, "x"), no_consent}))
                .find("MemberBundle[1]: Exactly one Consent parameter is required (found 0)"),
            std::string::npos);
}

TEST_F(SandboxBulkMatch, StrictHrexRefusesTheRequestAtTheFirstNonConformingConsent) {
  const std::string strict_ok =
      Request({HrexBundle(*match_, "a"), HrexBundle(*no_match_, "b"), HrexBundle(*refused_, "c")});
  BulkMatchDecision ok = DecideBulkMatch(strict_ok, app_->synth(), "bison", Today(),
                                         HrexMode::kStrict11);
  ASSERT_EQ(ok.status, 200) << ok.error_body;
  EXPECT_EQ(ok.verdicts[0].kind, BulkVerdict::kMatched);
  EXPECT_EQ(ok.verdicts[1].kind, BulkVerdict::kNoMatch);
  EXPECT_EQ(ok.verdicts[2].kind, BulkVerdict::kConsentConstrained);  // the business rule still
  const std::string mixed = Request({HrexBundle(*match_, "a"), Bundle(*no_match_, "b")});
  EXPECT_EQ(DecideBulkMatch(mixed, app_->synth(), "bison", Today()).status, 200);  // lenient
  BulkMatchDecision d =
      DecideBulkMatch(mixed, app_->synth(), "bison", Today(), HrexMode::kStrict11);
  EXPECT_EQ(d.status, 422);
  EXPECT_NE(d.error_body.find(
                R"("expression":["Parameters.parameter[1].part[2].resource.provision.actor"])"),
            std::string::npos)
      << d.error_body;
  EXPECT_EQ(d.error_body.find("parameter[0]"), std::string::npos) << d.error_body;
}

TEST_F(SandboxBulkMatch, AsyncAnswerNamesEachSubmittedMemberAndItsGroupExports) {
  AppReply kick =
      Call("POST", kKickoff,
           Request({Bundle(*match_, "m1"), Bundle(*no_match_, "m2"), Bundle(*refused_, "m3")}));
  ASSERT_EQ(kick.status, 202) << kick.body;
  EXPECT_EQ(kick.endpoint, Endpoint::kMatch);
  std::string location;
  for (const auto& [k, v] : kick.headers) {
    if (k == "Content-Location") location = v;
  }
  ASSERT_EQ(location.rfind("http://files.test:9/v1/bison/bulk-match/job/", 0), 0u) << location;
  AppReply status = Call("GET", location.substr(std::string("http://files.test:9").size()));
  ASSERT_EQ(status.status, 200) << status.body;

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(status.body).get(doc));
  std::map<std::string, std::pair<std::string, std::string>> groups;  // name -> (id, member refs)
  for (simdjson::dom::element p : doc["parameter"].get_array()) {
    std::string name(p["name"].get_string().value());
    simdjson::dom::element g = p["resource"];
    std::string refs;
    for (simdjson::dom::element m : g["member"].get_array()) {
      refs +=
          std::string(m["entity"]["reference"].get_string().value()) + "<-" +
          std::string(
              m["entity"]["extension"].at(0)["valueReference"]["reference"].get_string().value()) +
          ";";
    }
    groups[name] = {std::string(g["id"].get_string().value()), refs};
  }
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups["MatchedMembers"].second, "Patient/" + match_->patient_id + "<-#m1;");
  EXPECT_EQ(groups["NonMatchedMembers"].second, "#m2<-#m2;");
  EXPECT_EQ(groups["ConsentConstrainedMembers"].second, "#m3<-#m3;");

  // The matched Group exports the matched member's resources.
  AppReply exp =
      Call("GET", "/v1/bison/bulk-data/r4/Group/" + groups["MatchedMembers"].first + "/$export");
  EXPECT_EQ(exp.status, 202) << exp.body;
}

TEST_F(SandboxBulkMatch, StatusOfAnUnknownJobIs404) {
  AppReply unknown = Call("GET", "/v1/bison/bulk-match/job/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("Unknown $bulk-member-match job"), std::string::npos);
}

TEST_F(SandboxBulkMatch, NamedGroupFilesCarryEveryMembersResources) {
  auto members = std::vector<uint64_t>{0, 1};
  const std::string body = GroupFileBody(app_->synth(), members, "Patient", std::nullopt);
  EXPECT_NE(body.find(app_->synth().Member(0).patient_id), std::string::npos);
  EXPECT_NE(body.find(app_->synth().Member(1).patient_id), std::string::npos);
  EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 2);

  AppReply exp = Call("GET", "/v1/bison/bulk-data/r4/Group/fam/$export");
  ASSERT_EQ(exp.status, 202) << exp.body;
  EXPECT_EQ(Call("GET", "/v1/bison/bulk-data/r4/Group/unknown-group/$export").status, 404);
}

TEST(MemberIndexOfKey, MapsRosterKeysBack) {
  Synth synth(SynthOptions{1, 20, 1});
  EXPECT_EQ(MemberIndexOfKey(synth, "M000000007"), 7u);
  EXPECT_EQ(MemberIndexOfKey(synth, "M000000020"), std::nullopt);
  EXPECT_EQ(MemberIndexOfKey(synth, "X1"), std::nullopt);
  EXPECT_EQ(MemberIndexOfKey(synth, "M7"), std::nullopt);  // not the roster's spelling
}

}  // namespace
}  // namespace p2p::sandbox
