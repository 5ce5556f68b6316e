#include "fhir/export_status.h"

#include <gtest/gtest.h>

#include <string>

#include "support/error_text.h"

namespace p2p::fhir {
namespace {

using p2p::testing::ErrorText;

// The seed's kick-off answer (1up: 202, no Content-Location, the poll URL in the text).
constexpr std::string_view kSeedKickoff = R"({
    "resourceType": "OperationOutcome",
    "id": "j7dl66lqv6",
    "issue": [
        {
            "severity": "information",
            "code": "informational",
            "details": {
                "text": "Asynchronous export running. Track job at https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/$export/job/44bb133a-2033-4ba1-a29d-f50abb99e538"
            }
        }
    ]
})";

// The seed's status answer (1up: 200 with "status" and "batches").
constexpr std::string_view kSeedStatus = R"({
    "id": "44bb133a-2033-4ba1-a29d-f50abb99e538",
    "transactionTime": "2026-01-05T16:08:38.956Z",
    "request": "https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/Group/cmk1cuald0005l701sdo7gs8c/$export",
    "requiresAccessToken": true,
    "status": "Successful",
    "resourceCount": 31,
    "batches": {
        "running": 0,
        "complete": 6,
        "failed": 0,
        "total": 6
    },
    "lastUpdated": "2026-01-05T16:08:51.646Z",
    "output": [
        {
            "type": "Specimen",
            "url": "https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/$export/file/Specimen_2ae9a36c.ndjson"
        },
        {
            "type": "Coverage",
            "url": "https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/$export/file/Coverage_ff99b57c.ndjson"
        },
        {
            "type": "Patient",
            "url": "https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/$export/file/Patient_797bccd4.ndjson"
        },
        {
            "type": "ExplanationOfBenefit",
            "url": "https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/$export/file/ExplanationOfBenefit_f53222ae.ndjson"
        },
        {
            "type": "Encounter",
            "url": "https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/$export/file/Encounter_edd3675f.ndjson"
        },
        {
            "type": "Observation",
            "url": "https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/$export/file/Observation_ac712cd2.ndjson"
        }
    ]
})";

// A Bulk Data v2 complete manifest (the spec's example shape, with error and deleted files).
constexpr std::string_view kBulkV2Manifest = R"({
  "transactionTime": "2021-01-01T00:00:00Z",
  "request": "https://example.com/fhir/Patient/$export?_type=Patient,Observation",
  "requiresAccessToken": true,
  "output": [
    {"type": "Patient", "url": "https://example.com/output/patient_file_1.ndjson"},
    {"type": "Patient", "url": "https://example.com/output/patient_file_2.ndjson"},
    {"type": "Observation", "url": "https://example.com/output/observation_file_1.ndjson",
     "count": 1234}
  ],
  "deleted": [
    {"type": "Bundle", "url": "https://example.com/output/del_file_1.ndjson"}
  ],
  "error": [
    {"type": "OperationOutcome", "url": "https://example.com/output/err_file_1.ndjson"}
  ],
  "extension": {"https://example.com/extra-property": true}
})";

// --- kick-off ---

TEST(ReadKickoff, SeedAnswerGivesTheTrackJobUrl) {
  auto r = ReadKickoff("", kSeedKickoff);
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(*r,
            "https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/$export/job/"
            "44bb133a-2033-4ba1-a29d-f50abb99e538");
}

TEST(ReadKickoff, ContentLocationWins) {
  auto r = ReadKickoff("  https://x.example/status/1 ", kSeedKickoff);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "https://x.example/status/1");
  r = ReadKickoff("/relative/status/2", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "/relative/status/2");
}

TEST(ReadKickoff, TrackJobInDiagnosticsOrALaterIssue) {
  auto r = ReadKickoff("", R"({"resourceType":"OperationOutcome","issue":[{"code":"informational",)"
                           R"("details":{"text":"queued"}},{"code":"informational",)"
                           R"("diagnostics":"track job at  https://h/job/7. Thanks"}]})");
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(*r, "https://h/job/7");
}

TEST(ReadKickoff, ErrorShapes) {
  EXPECT_EQ(ErrorText(ReadKickoff("", "")),
            "protocol: kick-off answer: no Content-Location and no \"Track job at\" URL");
  EXPECT_EQ(ErrorText(ReadKickoff("", "accepted")), "parse: kick-off answer: not JSON");
  EXPECT_EQ(ErrorText(ReadKickoff("", R"({"resourceType":"OperationOutcome","issue":[)"
                                      R"({"details":{"text":"Asynchronous export running."}}]})")),
            "protocol: kick-off answer: no Content-Location and no \"Track job at\" URL");
  EXPECT_EQ(ErrorText(ReadKickoff("", R"({"resourceType":"OperationOutcome","issue":[)"
                                      R"({"details":{"text":"Track job at "}}]})")),
            "protocol: kick-off answer: no Content-Location and no \"Track job at\" URL");
  EXPECT_EQ(ErrorText(ReadKickoff("", R"({"text":"Track job at https://h/1"})")),
            "protocol: kick-off answer: no Content-Location and no \"Track job at\" URL");
  EXPECT_EQ(ErrorText(ReadKickoff("https://h/\x01", "")),
            "protocol: kick-off answer: Content-Location: not a URL");
  EXPECT_EQ(ErrorText(ReadKickoff("https://h/" + std::string(5000, 'a'), "")),
            "too_large: kick-off answer: Content-Location: longer than 4096 bytes");
}

// --- status ---

TEST(ReadStatus, SeedAnswerIsComplete) {
  auto r = ReadStatus(200, "", kSeedStatus);
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(r->status, ExportStatus::kComplete);
  EXPECT_EQ(r->transaction_time, "2026-01-05T16:08:38.956Z");
  EXPECT_TRUE(r->requires_access_token);
  EXPECT_EQ(r->progress_percent, 100);
  ASSERT_EQ(r->output.size(), 6u);
  EXPECT_EQ(r->output[0].type, "Specimen");
  EXPECT_EQ(r->output[0].url,
            "https://gateway.1upcoredev.com/v1/bison/bulk-data/r4/$export/file/"
            "Specimen_2ae9a36c.ndjson");
  EXPECT_EQ(r->output[0].count, -1);
  EXPECT_EQ(r->output[3].type, "ExplanationOfBenefit");
  EXPECT_EQ(r->output[5].type, "Observation");
  EXPECT_TRUE(r->error.empty());
  EXPECT_TRUE(r->deleted.empty());
}

TEST(ReadStatus, BulkDataV2Manifest) {
  auto r = ReadStatus(200, "", kBulkV2Manifest);
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(r->status, ExportStatus::kComplete);
  EXPECT_EQ(r->transaction_time, "2021-01-01T00:00:00Z");
  EXPECT_TRUE(r->requires_access_token);
  EXPECT_EQ(r->progress_percent, -1);
  ASSERT_EQ(r->output.size(), 3u);
  EXPECT_EQ(r->output[2].type, "Observation");
  EXPECT_EQ(r->output[2].count, 1234);
  ASSERT_EQ(r->error.size(), 1u);
  EXPECT_EQ(r->error[0].type, "OperationOutcome");
  EXPECT_EQ(r->error[0].url, "https://example.com/output/err_file_1.ndjson");
  ASSERT_EQ(r->deleted.size(), 1u);
  EXPECT_EQ(r->deleted[0].type, "Bundle");
}

TEST(ReadStatus, ManifestDefaultsAndUntypedErrorFiles) {
  auto r = ReadStatus(
      200, "",
      R"({"transactionTime":"2021-01-01T00:00:00Z","requiresAccessToken":false,)"
      R"("output":[],"error":[{"url":"https://e/1"}],"deleted":[{"url":"https://d/1"}]})");
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(r->status, ExportStatus::kComplete);
  EXPECT_FALSE(r->requires_access_token);
  EXPECT_TRUE(r->output.empty());
  EXPECT_EQ(r->error[0].type, "OperationOutcome");
  EXPECT_EQ(r->deleted[0].type, "Bundle");
  r = ReadStatus(200, "", R"({"output":[]})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->requires_access_token);
}

TEST(ReadStatus, AcceptedMeansRunningWithXProgress) {
  struct Case {
    std::string header;
    int percent;
  };
  const Case cases[] = {
      {"45%", 45}, {"45% complete", 45}, {" 7 %", 7}, {"12.5% done", 12}, {"100%", 100},
      {"", -1},    {"in progress", -1},  {"45", -1},  {"250%", -1},       {"99999%", -1}};
  for (const Case& c : cases) {
    auto r = ReadStatus(202, c.header, "");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, ExportStatus::kRunning);
    EXPECT_EQ(r->progress_percent, c.percent) << c.header;
  }
}

TEST(ReadStatus, OneUpStatusValues) {
  struct Case {
    std::string value;
    ExportStatus status;
  };
  const Case cases[] = {
      {"running", ExportStatus::kRunning},     {"In-Progress", ExportStatus::kRunning},
      {"QUEUED", ExportStatus::kRunning},      {"pending", ExportStatus::kRunning},
      {"Successful", ExportStatus::kComplete}, {"completed", ExportStatus::kComplete},
      {"complete", ExportStatus::kComplete},   {"done", ExportStatus::kComplete},
      {"Failed", ExportStatus::kFailed},       {"error", ExportStatus::kFailed},
      {"cancelled", ExportStatus::kFailed},
  };
  for (const Case& c : cases) {
    auto r = ReadStatus(200, "", R"({"status":")" + c.value + R"(","output":[]})");
    ASSERT_TRUE(r.ok()) << c.value << ": " << ErrorText(r);
    EXPECT_EQ(r->status, c.status) << c.value;
  }
}

TEST(ReadStatus, OneUpRunningWithPartialOutputIsRunning) {
  auto r = ReadStatus(200, "",
                      R"({"status":"running","batches":{"running":3,"complete":1,"failed":0,)"
                      R"("total":4},"output":[{"type":"Patient","url":"https://h/f/P.ndjson"},)"
                      R"({"type":"bad type","url":""}]})");
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(r->status, ExportStatus::kRunning);
  EXPECT_EQ(r->progress_percent, 25);
  EXPECT_TRUE(r->output.empty());
}

TEST(ReadStatus, OneUpFailure) {
  auto r =
      ReadStatus(200, "", R"({"status":"Failed","batches":{"complete":4,"failed":2,"total":6}})");
  ASSERT_TRUE(r.ok()) << ErrorText(r);
  EXPECT_EQ(r->status, ExportStatus::kFailed);
  EXPECT_EQ(r->failure, "export reports failure (2 batches failed)");
  r = ReadStatus(200, "", R"({"status":"error","message":"upstream gone"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->failure, "upstream gone");
  r = ReadStatus(200, "", R"({"status":"cancelled"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->failure, "export reports failure");
}

TEST(ReadStatus, TooManyFiles) {
  std::string body = R"({"output":[)";
  for (int i = 0; i < 4; ++i) {
    if (i) body += ",";
    body += R"({"type":"Patient","url":"https://h/)" + std::to_string(i) + "\"}";
  }
  body += "]}";
  EXPECT_TRUE(ReadStatus(200, "", body, 4).ok());
  EXPECT_EQ(ErrorText(ReadStatus(200, "", body, 3)),
            "too_large: status answer: output: more than 3 entries");
}

TEST(ReadStatus, ErrorShapes) {
  struct Case {
    std::string body;
    std::string error;
  };
  const std::string long_url = "https://h/" + std::string(4100, 'a');
  const Case cases[] = {
      {"<html>", "parse: status answer: not JSON"},
      {"[]", "protocol: status answer: not a JSON object"},
      {R"({"transactionTime":"2021-01-01T00:00:00Z"})",
       "protocol: status answer: no output and no status"},
      {R"({"status":"weird"})", "protocol: status answer: status: unknown value"},
      {R"({"status":3})", "protocol: status answer: status: not a string"},
      {R"({"output":{}})", "protocol: status answer: output: not an array"},
      {R"({"output":[1]})", "protocol: status answer: output[0]: not an object"},
      {R"({"output":[{"url":"https://h/1"}]})", "protocol: status answer: output[0].type: missing"},
      {R"({"output":[{"type":"Patient","url":"https://h/1"},{"type":"Patient","url":"https://h/2"},)"
       R"({"type":"Patient","url":"https://h/3"},{"type":"patient","url":"https://h/4"}]})",
       "protocol: status answer: output[3].type: not a FHIR resource type"},
      {R"({"output":[{"type":")" + std::string(300, 'A') + R"(","url":"https://h/1"}]})",
       "protocol: status answer: output[0].type: not a FHIR resource type"},
      {R"({"output":[{"type":"Patient"}]})", "protocol: status answer: output[0].url: missing"},
      {R"({"output":[{"type":"Patient","url":""}]})",
       "protocol: status answer: output[0].url: empty"},
      {R"({"output":[{"type":"Patient","url":"https://h/a b"}]})",
       "protocol: status answer: output[0].url: not a URL"},
      {R"({"output":[{"type":"Patient","url":")" + long_url + R"("}]})",
       "too_large: status answer: output[0].url: longer than 4096 bytes"},
      {R"({"output":[{"type":"Patient","url":"https://h/1","count":-1}]})",
       "protocol: status answer: output[0].count: out of range"},
      {R"({"output":[{"type":"Patient","url":"https://h/1","count":"3"}]})",
       "protocol: status answer: output[0].count: not an integer"},
      {R"({"output":[{"type":"Patient","url":"https://h/1","count":18446744073709551615}]})",
       "protocol: status answer: output[0].count: out of range"},
      {R"({"output":[],"error":[{"type":"Oops1","url":"https://h/1"}]})",
       "protocol: status answer: error[0].type: not a FHIR resource type"},
      {R"({"output":[],"deleted":"none"})", "protocol: status answer: deleted: not an array"},
      {R"({"output":[],"requiresAccessToken":"yes"})",
       "protocol: status answer: requiresAccessToken: not a boolean"},
      {R"({"output":[],"transactionTime":"2021-01-01T00:00:00Z&_type=x"})",
       "protocol: status answer: transactionTime: not an instant"},
      {R"({"output":[],"transactionTime":7})",
       "protocol: status answer: transactionTime: not a string"},
      {R"({"status":"running","batches":[]})", "protocol: status answer: batches: not an object"},
      {R"({"status":"running","batches":{"total":-6}})",
       "protocol: status answer: batches.total: out of range"},
      {R"({"status":"running","batches":{"complete":1.5}})",
       "protocol: status answer: batches.complete: not an integer"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrorText(ReadStatus(200, "", c.body)), c.error) << c.body.substr(0, 200);
  }
}

TEST(ReadStatus, OtherHttpStatusesAreForTheCaller) {
  auto r = ReadStatus(500, "", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorText(r), "http_status: status answer: HTTP 500");
  EXPECT_EQ(r.error().http_status, 500);
}

TEST(ReadStatus, ErrorsNeverQuoteTheBody) {
  const std::string secret = "Jay-Young-2001-03-11";
  const std::string bodies[] = {
      R"({"status":")" + secret + "\"}",
      R"({"output":[{"type":")" + secret + R"(","url":"x"}]})",
      R"({"output":[{"type":"Patient","url":"https://h/)" + secret + R"( x"}]})",
      R"({"output":[],"transactionTime":")" + secret + "/\"}",
      secret,
  };
  for (const std::string& body : bodies) {
    auto r = ReadStatus(200, "", body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().message.find("Jay"), std::string::npos) << r.error().message;
  }
}

// --- paged manifests, Expires ---

TEST(ReadStatus, ReadsTheNextPageLinkOfACompleteManifest) {
  auto r = ReadStatus(200, "",
                      R"({"transactionTime":"2026-01-05T16:08:38.956Z","output":[],)"
                      R"("link":[{"relation":"self","url":"https://h/job/1"},)"
                      R"({"relation":"next","url":"https://h/job/1?page=2"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, ExportStatus::kComplete);
  EXPECT_EQ(r->next_link, "https://h/job/1?page=2");
}

TEST(ReadStatus, AManifestWithoutLinkHasNoNextPage) {
  auto r = ReadStatus(200, "", R"({"output":[],"link":[{"relation":"self","url":"x"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->next_link, "");
}

TEST(ReadStatus, BadNextLinksAreProtocolErrors) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"output":[],"link":{}})", "status answer: link: not an array"},
      {R"({"output":[],"link":["x"]})", "status answer: link[0]: not an object"},
      {R"({"output":[],"link":[{"relation":"next"}]})", "status answer: link[0].url: missing"},
      {R"({"output":[],"link":[{"relation":"next","url":"https://h/a b"}]})",
       "status answer: link[0].url: not a URL"},
      {R"({"output":[],"link":[{"relation":"next","url":"a"},{"relation":"next","url":"b"}]})",
       "status answer: link[1]: more than one next link"},
  };
  for (const auto& [body, message] : cases) {
    auto r = ReadStatus(200, "", body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::kProtocol);
    EXPECT_EQ(r.error().message, message);
  }
}

TEST(ReadExpires, ReadsAnHttpDateAsUnixMillis) {
  EXPECT_EQ(ReadExpires("Sun, 06 Nov 1994 08:49:37 GMT"), int64_t{784111777} * 1000);
  EXPECT_EQ(ReadExpires(" Mon, 05 Jan 2026 16:08:38 GMT "), int64_t{1767629318} * 1000);
}

TEST(ReadExpires, IgnoresWhatIsNotAnHttpDate) {
  EXPECT_EQ(ReadExpires(""), std::nullopt);
  EXPECT_EQ(ReadExpires("0"), std::nullopt);
  EXPECT_EQ(ReadExpires("3600"), std::nullopt);
  EXPECT_EQ(ReadExpires("tomorrow"), std::nullopt);
}

}  // namespace
}  // namespace p2p::fhir
