// pipeline/export_request.h: the kick-off request of each export.operation.
#include "pipeline/export_request.h"

#include <gtest/gtest.h>

namespace p2p::pipeline {
namespace {

PayerOptions Payer(ExportOperation op) {
  PayerOptions p;
  p.id = "bison";
  p.base_url = "https://payer.example/v1/bison";
  p.export_path = "/bulk-data/r4/Group/{group_id}/$export";
  p.export_job.operation = op;
  return p;
}

std::string Header(const http::Request& r, std::string_view name) {
  for (const http::Header& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return "<absent>";
}

TEST(ExportRequest, GroupExportIsTheSeedsGetWithoutParameters) {
  auto r = BuildExportRequest(Payer(ExportOperation::kGroupExport), {"g1", ""}, "");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->url.ToString(), "https://payer.example/v1/bison/bulk-data/r4/Group/g1/$export");
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(Header(*r, "Prefer"), "respond-async");
  EXPECT_EQ(Header(*r, "Accept"), "application/fhir+json");
  EXPECT_EQ(Header(*r, "Content-Type"), "<absent>");
}

TEST(ExportRequest, GroupExportPutsTypeRepeatedTypeFilterAndSinceInTheQuery) {
  PayerOptions p = Payer(ExportOperation::kGroupExport);
  p.export_job.types = {"Patient", "Observation"};
  p.export_job.type_filters = {"Observation?status=final", "Observation?code=a,b"};
  auto r = BuildExportRequest(p, {"g1", ""}, "2026-01-05T16:08:38.956+01:00");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->url.target,
            "/v1/bison/bulk-data/r4/Group/g1/$export?_type=Patient%2CObservation"
            "&_typeFilter=Observation%3Fstatus%3Dfinal&_typeFilter=Observation%3Fcode%3Da%2Cb"
            "&_since=2026-01-05T16%3A08%3A38.956%2B01%3A00");
}

TEST(ExportRequest, GroupExportAppendsToAPathThatHasAQueryAlready) {
  PayerOptions p = Payer(ExportOperation::kGroupExport);
  p.export_path = "/Group/{group_id}/$export?_outputFormat=ndjson";
  auto r = BuildExportRequest(p, {"g1", ""}, "2026-01-01T00:00:00Z");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->url.target,
            "/v1/bison/Group/g1/$export?_outputFormat=ndjson&_since=2026-01-01T00%3A00%3A00Z");
}

TEST(ExportRequest, DavinciDataExportPostsPdexParameters) {
  PayerOptions p = Payer(ExportOperation::kDavinciDataExport);
  p.export_job.davinci_path = "/bulk-data/r4/Group/{group_id}/$davinci-data-export";
  p.export_job.types = {"Patient", "Coverage"};
  p.export_job.type_filters = {"Coverage?status=active"};
  auto r = BuildExportRequest(p, {"g1", ""}, "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->url.ToString(),
            "https://payer.example/v1/bison/bulk-data/r4/Group/g1/$davinci-data-export");
  EXPECT_EQ(Header(*r, "Content-Type"), "application/fhir+json");
  EXPECT_EQ(Header(*r, "Prefer"), "respond-async");
  EXPECT_EQ(r->body,
            R"({"resourceType":"Parameters","parameter":[)"
            R"({"name":"exportType","valueCanonical":"hl7.fhir.us.davinci-pdex#payertopayer"},)"
            R"({"name":"_since","valueInstant":"2026-01-01T00:00:00Z"},)"
            R"({"name":"_until","valueInstant":"2026-04-01T00:00:00Z"},)"
            R"({"name":"_type","valueString":"Patient,Coverage"},)"
            R"({"name":"_typeFilter","valueString":"Coverage?status=active"}]})");
}

TEST(ExportRequest, DavinciDataExportWithoutSinceSendsOnlyExportType) {
  auto r = BuildExportRequest(Payer(ExportOperation::kDavinciDataExport), {"g1", ""}, "");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->url.ToString(), "https://payer.example/v1/bison/Group/g1/$davinci-data-export");
  EXPECT_EQ(r->body,
            R"({"resourceType":"Parameters","parameter":[)"
            R"({"name":"exportType","valueCanonical":"hl7.fhir.us.davinci-pdex#payertopayer"}]})");
}

TEST(ExportRequest, PatientExportPostsThePatientReferenceFromTheMemberIdentifier) {
  PayerOptions p = Payer(ExportOperation::kPatientExport);
  p.export_job.patient_path = "/bulk-data/r4/Patient/$export";
  p.export_job.types = {"Patient"};
  auto r = BuildExportRequest(p, {"", "pat-1"}, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->url.ToString(), "https://payer.example/v1/bison/bulk-data/r4/Patient/$export");
  EXPECT_EQ(r->body, R"({"resourceType":"Parameters","parameter":[)"
                     R"({"name":"patient","valueReference":{"reference":"Patient/pat-1"}},)"
                     R"({"name":"_since","valueInstant":"2026-01-01T00:00:00Z"},)"
                     R"({"name":"_type","valueString":"Patient"}]})");
}

TEST(ExportRequest, PatientExportUsesAGroupNotAtAll) {
  auto r = BuildExportRequest(Payer(ExportOperation::kPatientExport), {"g1", "pat-1"}, "");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->url.target, "/v1/bison/Patient/$export");
}

TEST(ExportRequest, MissingIdsAreInvalidWithoutPhi) {
  auto g = BuildExportRequest(Payer(ExportOperation::kDavinciDataExport), {"", "pat-1"}, "");
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(g.error().message, "export kick-off: no Group id for davinci-data-export");
  auto p = BuildExportRequest(Payer(ExportOperation::kPatientExport), {"g1", ""}, "");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message, "export kick-off: no member identifier for patient-export");
}

TEST(ExportRequest, JsonSpecialCharactersInFiltersAreEscaped) {
  PayerOptions p = Payer(ExportOperation::kPatientExport);
  p.export_job.type_filters = {"Observation?code=\"x\"\\"};
  auto r = BuildExportRequest(p, {"", "pat-1"}, "");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r->body.find(R"("valueString":"Observation?code=\"x\"\\")"), std::string::npos)
      << r->body;
}

TEST(PatientReference, KeepsReferencesAndPrefixesBareIds) {
  EXPECT_EQ(PatientReference("abc"), "Patient/abc");
  EXPECT_EQ(PatientReference("Patient/abc"), "Patient/abc");
  EXPECT_EQ(PatientReference("https://x/fhir/Patient/abc"), "https://x/fhir/Patient/abc");
}

}  // namespace
}  // namespace p2p::pipeline
