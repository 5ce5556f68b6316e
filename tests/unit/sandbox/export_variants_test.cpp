// sandbox/export_variants.h and the manifest variants of export_jobs.h, through SandboxApp.
#include "export_variants.h"

#include <gtest/gtest.h>

#include "export_jobs.h"
#include "sandbox_app.h"
#include "text_util.h"

namespace p2p::sandbox {
namespace {

constexpr char kTokenPath[] = "/auth/realms/dev-portal/protocol/openid-connect/token";
constexpr char kDavinci[] =
    R"({"name":"exportType","valueCanonical":"hl7.fhir.us.davinci-pdex#payertopayer"})";

std::string Params(std::string_view parameters) {
  return R"({"resourceType":"Parameters","parameter":[)" + std::string(parameters) + "]}";
}

TEST(ExportVariantFlags, ParseEachFlagAndRefuseBadValues) {
  VariantOptions v;
  std::string why;
  EXPECT_EQ(ParseVariantFlag("--error-files", "3", &v, &why), VariantFlag::kOk);
  EXPECT_EQ(ParseVariantFlag("--requires-token", "false", &v, &why), VariantFlag::kOk);
  EXPECT_EQ(ParseVariantFlag("--manifest-page-size", "2", &v, &why), VariantFlag::kOk);
  EXPECT_EQ(ParseVariantFlag("--file-expires", "0s", &v, &why), VariantFlag::kOk);
  EXPECT_EQ(ParseVariantFlag("--match-answer", "identifier-only", &v, &why), VariantFlag::kOk);
  EXPECT_EQ(v.error_lines, 3);
  EXPECT_FALSE(v.requires_token);
  EXPECT_EQ(v.manifest_page_size, 2u);
  EXPECT_EQ(v.file_expires, std::chrono::milliseconds(0));
  EXPECT_TRUE(v.match_identifier_only);
  EXPECT_EQ(ParseVariantFlag("--members", "3", &v, &why), VariantFlag::kNotMine);
  EXPECT_EQ(ParseVariantFlag("--error-files", "1001", &v, &why), VariantFlag::kBad);
  EXPECT_EQ(why, "expected a line count 0..1000");
  EXPECT_EQ(ParseVariantFlag("--requires-token", "no", &v, &why), VariantFlag::kBad);
  EXPECT_EQ(why, "expected true or false");
  EXPECT_EQ(ParseVariantFlag("--match-answer", "some", &v, &why), VariantFlag::kBad);
  EXPECT_EQ(why, "expected full or identifier-only");
}

TEST(ExportQuery, ReadsTypeSinceAndRepeatedOrCommaJoinedTypeFilters) {
  auto k = ParseExportQuery(
      "_type=Patient,Observation&_since=2020-01-01T00:00:00Z"
      "&_typeFilter=Observation%3F_lastUpdated%3Dge2024-01-01T00:00:00Z"
      "&_typeFilter=Patient%3F_lastUpdated%3Dgt2023-01-01T00:00:00Z");
  ASSERT_FALSE(k.error);
  EXPECT_EQ(k.params.types, 0b10001u);  // Patient, Observation
  EXPECT_EQ(k.params.since, ParseInstant("2020-01-01T00:00:00Z"));
  EXPECT_EQ(k.params.type_since[4], ParseInstant("2024-01-01T00:00:00Z"));
  EXPECT_EQ(k.params.type_since[0], *ParseInstant("2023-01-01T00:00:00Z") + 1);
  auto joined = ParseExportQuery(
      "_typeFilter=Observation%3F_lastUpdated%3Dge2024-01-01,Coverage%3F_lastUpdated%3Dge2025-01-"
      "01");
  ASSERT_FALSE(joined.error);
  EXPECT_TRUE(joined.params.type_since[4]);
  EXPECT_TRUE(joined.params.type_since[1]);
}

TEST(ExportQuery, UnsupportedFiltersAndTypesAre400) {
  auto f = ParseExportQuery("_typeFilter=Observation%3Fstatus%3Dfinal");
  ASSERT_TRUE(f.error);
  EXPECT_EQ(f.error->status, 400);
  EXPECT_EQ(f.error->code, "not-supported");
  EXPECT_EQ(f.error->diagnostics,
            "Unsupported _typeFilter: only Type?_lastUpdated=ge<instant> is supported");
  auto t = ParseExportQuery("_type=Nope");
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->diagnostics, "Unsupported _type");
  auto u = ParseExportQuery("_typeFilter=Nope%3F_lastUpdated%3Dge2024-01-01");
  ASSERT_TRUE(u.error);
  EXPECT_EQ(u.error->code, "invalid");
}

TEST(ExportParameters, DavinciNeedsThePayerToPayerExportType) {
  const int64_t now = 1'800'000'000;
  auto ok = ParseExportParameters(
      Params(std::string(kDavinci) + R"(,{"name":"_since","valueInstant":"2024-01-01T00:00:00Z"},)"
                                     R"({"name":"_until","valueInstant":"2030-01-01T00:00:00Z"},)"
                                     R"({"name":"_type","valueString":"Patient"})"),
      KickoffRoute::kDavinci, now);
  ASSERT_FALSE(ok.error) << ok.error->diagnostics;
  EXPECT_EQ(ok.params.types, 1u);
  EXPECT_EQ(ok.params.since, ParseInstant("2024-01-01T00:00:00Z"));
  const std::pair<std::string, std::string> bad[] = {
      {Params(R"({"name":"_type","valueString":"Patient"})"), "exportType is required"},
      {Params(R"({"name":"exportType","valueCanonical":"other#x"})"),
       "exportType must be hl7.fhir.us.davinci-pdex#payertopayer"},
      {Params(std::string(kDavinci) + R"(,{"name":"_since","valueString":"soon"})"),
       "_since must be a valueInstant"},
      {Params(std::string(kDavinci) +
              R"(,{"name":"_until","valueInstant":"2020-01-01T00:00:00Z"})"),
       "p2p-sandbox supports _until only at or after now"},
      {Params(std::string(kDavinci) + R"(,{"name":"colour","valueString":"red"})"),
       "Unsupported parameter colour"},
      {R"({"resourceType":"Bundle"})", "Body must be a Parameters resource"},
      {"not json", "Malformed JSON body"},
  };
  for (const auto& [body, message] : bad) {
    auto k = ParseExportParameters(body, KickoffRoute::kDavinci, now);
    ASSERT_TRUE(k.error) << body;
    EXPECT_EQ(k.error->status, 400);
    EXPECT_EQ(k.error->diagnostics, message);
  }
}

TEST(ExportParameters, PatientExportNeedsExactlyOnePatientReference) {
  auto ok = ParseExportParameters(
      Params(R"({"name":"patient","valueReference":{"reference":"Patient/pat-1"}})"),
      KickoffRoute::kPatient, 0);
  ASSERT_FALSE(ok.error);
  EXPECT_EQ(ok.params.patient, "pat-1");
  auto none = ParseExportParameters(Params(""), KickoffRoute::kPatient, 0);
  ASSERT_TRUE(none.error);
  EXPECT_EQ(none.error->code, "required");
  auto wrong = ParseExportParameters(
      Params(R"({"name":"patient","valueReference":{"reference":"Group/g"}})"),
      KickoffRoute::kPatient, 0);
  ASSERT_TRUE(wrong.error);
  EXPECT_EQ(wrong.error->diagnostics, "patient must be a valueReference to Patient/<id>");
}

TEST(ExportVariants, FindsAMemberByItsPatientIdOnly) {
  Synth synth(SynthOptions{3, 20, 1});
  for (uint64_t i : {0u, 7u, 19u}) {
    EXPECT_EQ(FindMemberByPatientId(synth, synth.Member(i).patient_id), i);
  }
  EXPECT_EQ(FindMemberByPatientId(synth, "pat-0000000000000"), std::nullopt);
  EXPECT_EQ(FindMemberByPatientId(synth, synth.Member(3).coverage_id), std::nullopt);
}

TEST(ExportVariants, ErrorFileLinesAlternateSeverityAndCode) {
  const std::string body = ErrorFileBody("job-1", 3);
  EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 3);
  const std::string first = body.substr(0, body.find('\n'));
  const std::string second = body.substr(first.size() + 1, body.find('\n', first.size() + 1));
  EXPECT_NE(first.find(R"("severity":"error")"), std::string::npos) << first;
  EXPECT_NE(first.find(R"("code":"processing")"), std::string::npos) << first;
  EXPECT_NE(second.find(R"("severity":"warning")"), std::string::npos) << second;
  EXPECT_NE(second.find(R"("code":"not-found")"), std::string::npos) << second;
  EXPECT_NE(first.find(kDiagnosticMarker), std::string::npos);
}

class VariantServer : public ::testing::Test {
 protected:
  void Start(VariantOptions v, Flavor flavor = Flavor::kBulkV2) {
    ServerOptions o;
    o.synth = SynthOptions{3, 20, 1};
    o.job_delay = std::chrono::milliseconds(0);
    o.flavor = flavor;
    o.clients = {{"sandbox-client", "sandbox-secret"}};
    o.variants = v;
    app_ = std::make_unique<SandboxApp>(o, "http://files.test:9");
    AppRequest t;
    t.method = "POST";
    t.target = kTokenPath;
    t.content_type = "application/x-www-form-urlencoded";
    t.body = "client_id=sandbox-client&client_secret=sandbox-secret&grant_type=client_credentials";
    AppReply r = app_->Handle(t);
    const size_t at = r.body.find("\"access_token\":\"") + 16;
    bearer_ = "Bearer " + r.body.substr(at, r.body.find('"', at) - at);
  }
  AppReply Call(std::string_view method, std::string_view target, std::string_view body = "",
                bool token = true) {
    AppRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.authorization = token ? std::string_view(bearer_) : std::string_view();
    r.content_type = "application/fhir+json";
    r.from_loopback = true;
    return app_->Handle(r);
  }
  // Kicks off member 1's group export; returns the status path.
  std::string Kickoff(std::string_view query = "") {
    AppReply r = Call("GET", "/v1/bison/bulk-data/r4/Group/" + app_->synth().GroupId(1) +
                                 "/$export" + std::string(query));
    EXPECT_EQ(r.status, 202) << r.body;
    for (const auto& [k, v] : r.headers) {
      if (k == "Content-Location") return v.substr(std::string("http://files.test:9").size());
    }
    return "";
  }
  std::string Header(const AppReply& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  std::unique_ptr<SandboxApp> app_;
  std::string bearer_;
};

TEST_F(VariantServer, PagedManifestLinksEveryPageAndListsTheErrorFileFirst) {
  VariantOptions v;
  v.manifest_page_size = 2;
  v.error_lines = 2;
  Start(v);
  const std::string status = Kickoff();
  size_t files = 0, pages = 0;
  std::string page = status;
  while (!page.empty()) {
    AppReply r = Call("GET", page);
    ASSERT_EQ(r.status, 200) << r.body;
    ++pages;
    size_t n = 0;
    for (size_t at = 0; (at = r.body.find("\"url\":", at)) != std::string::npos; ++at) ++n;
    const size_t next = r.body.find(R"("relation":"next","url":")");
    page.clear();
    if (next != std::string::npos) {
      --n;  // the link's own url
      const size_t from = next + 25 + std::string("http://files.test:9").size();
      page = r.body.substr(from, r.body.find('"', from) - from);
    }
    if (pages == 1) {
      EXPECT_NE(r.body.find("OperationOutcome_"), std::string::npos);
    }
    files += n;
  }
  EXPECT_GE(pages, 3u);
  AppReply past = Call("GET", status + "?page=99");
  EXPECT_EQ(past.status, 404);
  EXPECT_GT(files, 4u);
}

TEST_F(VariantServer, ErrorFileServesOperationOutcomeLines) {
  VariantOptions v;
  v.error_lines = 3;
  Start(v);
  AppReply st = Call("GET", Kickoff());
  const size_t at = st.body.find("/$export/file/OperationOutcome_");
  ASSERT_NE(at, std::string::npos) << st.body;
  const std::string path =
      "/v1/bison/bulk-data/r4" + st.body.substr(at, st.body.find('"', at) - at);
  AppReply f = Call("GET", path);
  ASSERT_EQ(f.status, 200);
  EXPECT_EQ(std::count(f.body.begin(), f.body.end(), '\n'), 3);
  EXPECT_NE(f.body.find(kDiagnosticMarker), std::string::npos);
  EXPECT_EQ(f.body.find(R"("resourceType":"Patient")"), std::string::npos);
}

TEST_F(VariantServer, RequiresTokenFalseServesFilesWithoutOneAndCountsIt) {
  VariantOptions v;
  v.requires_token = false;
  Start(v);
  AppReply st = Call("GET", Kickoff());
  EXPECT_NE(st.body.find(R"("requiresAccessToken":false)"), std::string::npos);
  const size_t at = st.body.find("/$export/file/");
  const std::string path =
      "/v1/bison/bulk-data/r4" + st.body.substr(at, st.body.find('"', at) - at);
  EXPECT_EQ(Call("GET", path, "", false).status, 200);
  EXPECT_EQ(Call("GET", path, "", true).status, 200);
  const std::string stats = app_->StatsJson();
  EXPECT_NE(stats.find(R"("file_requests_with_token":1,"file_requests_without_token":1)"),
            std::string::npos)
      << stats;
}

TEST_F(VariantServer, ExpiredFilesAre410AfterTheExpiresHeader) {
  VariantOptions v;
  v.file_expires = std::chrono::milliseconds(0);
  Start(v);
  AppReply st = Call("GET", Kickoff());
  EXPECT_FALSE(Header(st, "Expires").empty());
  const size_t at = st.body.find("/$export/file/");
  const std::string path =
      "/v1/bison/bulk-data/r4" + st.body.substr(at, st.body.find('"', at) - at);
  EXPECT_EQ(Call("GET", path).status, 410);
}

TEST_F(VariantServer, PostKickoffsAndTheIdentifierOnlyMatch) {
  VariantOptions v;
  v.match_identifier_only = true;
  Start(v);
  const std::string group = app_->synth().GroupId(1);
  AppReply d = Call("POST", "/v1/bison/bulk-data/r4/Group/" + group + "/$davinci-data-export",
                    Params(kDavinci));
  EXPECT_EQ(d.status, 202) << d.body;
  AppReply bad =
      Call("POST", "/v1/bison/bulk-data/r4/Group/" + group + "/$davinci-data-export", Params(""));
  EXPECT_EQ(bad.status, 400);
  const std::string patient = app_->synth().Member(1).patient_id;
  AppReply p = Call(
      "POST", "/v1/bison/bulk-data/r4/Patient/$export",
      Params(R"({"name":"patient","valueReference":{"reference":"Patient/)" + patient + R"("}})"));
  EXPECT_EQ(p.status, 202) << p.body;
  AppReply unknown =
      Call("POST", "/v1/bison/bulk-data/r4/Patient/$export",
           Params(R"({"name":"patient","valueReference":{"reference":"Patient/x"}})"));
  EXPECT_EQ(unknown.status, 404);
  const std::string stats = app_->StatsJson();
  EXPECT_NE(
      stats.find(R"("kickoffs":{"group-export":0,"davinci-data-export":1,"patient-export":1})"),
      std::string::npos)
      << stats;
  EXPECT_EQ(IdentifierOnlyMatchAnswer(app_->synth().Member(1), "bison").find("groupId"),
            std::string::npos);
}

}  // namespace
}  // namespace p2p::sandbox
