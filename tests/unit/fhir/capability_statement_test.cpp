#include "fhir/capability_statement.h"

#include <gtest/gtest.h>

#include <string>

namespace p2p::fhir {
namespace {

// Which of the four operations the statement advertises, as "mm bmm export dde" flags.
std::string Ops(const CapabilitySummary& s) {
  std::string out;
  out += s.member_match ? "mm " : "-- ";
  out += s.bulk_member_match ? "bmm " : "--- ";
  out += s.export_operation ? "export " : "------ ";
  out += s.davinci_data_export ? "dde" : "---";
  return out;
}

CapabilitySummary Read(const std::string& body) {
  Result<CapabilitySummary> r = ReadCapabilityStatement(body);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : CapabilitySummary{};
}

std::string WithRest(const std::string& rest) {
  return R"({"resourceType":"CapabilityStatement","fhirVersion":"4.0.1","kind":"instance","rest":)" +
         rest + "}";
}

TEST(CapabilityStatement, ReadsVersionKindSoftwareAndResourceOperations) {
  CapabilitySummary s = Read(R"({"resourceType":"CapabilityStatement","status":"active",
    "kind":"instance","software":{"name":"Acme FHIR","version":"5.2"},"fhirVersion":"4.0.1",
    "rest":[{"mode":"server","security":{"service":[{"coding":[{"system":
      "http://terminology.hl7.org/CodeSystem/restful-security-service","code":"SMART-on-FHIR"}]}]},
     "resource":[
      {"type":"Patient","operation":[{"name":"member-match",
        "definition":"http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match"}]},
      {"type":"Group","operation":[{"name":"bulk-member-match",
        "definition":"http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch"},
       {"name":"export","definition":"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"}]}]}]})");
  EXPECT_EQ(s.fhir_version, "4.0.1");
  EXPECT_EQ(s.kind, "instance");
  EXPECT_EQ(s.software, "Acme FHIR 5.2");
  EXPECT_TRUE(s.smart_on_fhir);
  EXPECT_EQ(Ops(s), "mm bmm export ---");
}

TEST(CapabilityStatement, SystemLevelOperationsByNameWithOrWithoutDollar) {
  EXPECT_EQ(Ops(Read(WithRest(R"([{"mode":"server","operation":[{"name":"$member-match"},
    {"name":"$Bulk-Member-Match"},{"name":"export"},{"name":"davinci-data-export"}]}])"))),
            "mm bmm export dde");
}

TEST(CapabilityStatement, OperationsByDefinitionAloneWithVersionSuffix) {
  EXPECT_EQ(Ops(Read(WithRest(R"([{"mode":"server","operation":[
    {"name":"mm","definition":"http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match|1.1.0"},
    {"name":"x","definition":"http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/bulk-member-match"},
    {"name":"y","definition":"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export|2.0.0"}]}])"))),
            "mm bmm export ---");
  EXPECT_EQ(Ops(Read(WithRest(R"([{"operation":[
    {"name":"everything","definition":"http://hl7.org/fhir/OperationDefinition/Patient-everything"},
    {"name":"z","definition":"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}]}])"))),
            "-- --- export ---");
}

TEST(CapabilityStatement, BulkMemberMatchIsNotMemberMatch) {
  EXPECT_EQ(Ops(Read(WithRest(R"([{"resource":[{"type":"Group","operation":[
    {"name":"bulk-member-match"}]}]}])"))),
            "-- bmm ------ ---");
}

TEST(CapabilityStatement, NothingAdvertisedIsNotAnError) {
  CapabilitySummary s = Read(WithRest(R"([{"mode":"server","resource":[{"type":"Patient",
    "interaction":[{"code":"read"}]}]}])"));
  EXPECT_EQ(Ops(s), "-- --- ------ ---");
  EXPECT_FALSE(s.smart_on_fhir);
  EXPECT_EQ(Read(R"({"resourceType":"CapabilityStatement"})").fhir_version, "");
}

TEST(CapabilityStatement, ClientModeRestIsIgnored) {
  EXPECT_EQ(Ops(Read(WithRest(R"([{"mode":"client","operation":[{"name":"member-match"}]},
    {"mode":"server","operation":[{"name":"export"}]}])"))),
            "-- --- export ---");
}

TEST(CapabilityStatement, WrongTypesAreSkipped) {
  CapabilitySummary s = Read(R"({"resourceType":"CapabilityStatement","fhirVersion":4,
    "software":"x","rest":[7,{"operation":{"name":"export"}},{"operation":[{"name":12},
    {"definition":["member-match"]},"export",{"name":"member-match"}],"resource":[null]}]})");
  EXPECT_EQ(s.fhir_version, "");
  EXPECT_EQ(s.software, "");
  EXPECT_EQ(Ops(s), "mm --- ------ ---");
  EXPECT_EQ(Ops(Read(WithRest(R"({"operation":[{"name":"export"}]})"))), "-- --- ------ ---");
}

TEST(CapabilityStatement, PrintableFieldsOnly) {
  CapabilitySummary s = Read(
      R"({"resourceType":"CapabilityStatement","fhirVersion":"4.0.1\u001b[2J","software":{"name":"a\nb"}})");
  EXPECT_EQ(s.fhir_version, "4.0.1?[2J");
  EXPECT_EQ(s.software, "a?b");
}

TEST(CapabilityStatement, OtherAnswersAreErrors) {
  const auto error = [](const std::string& body) {
    Result<CapabilitySummary> r = ReadCapabilityStatement(body);
    EXPECT_FALSE(r.ok()) << body;
    return r.ok() ? std::string()
                  : std::string(ErrorKindName(r.error().kind)) + ": " + r.error().message;
  };
  EXPECT_EQ(error("<html>Not Found</html>"), "parse: metadata: not JSON");
  EXPECT_EQ(error(""), "parse: metadata: not JSON");
  EXPECT_EQ(error(R"({"resourceType":"OperationOutcome","issue":[]})"),
            "protocol: metadata: not a CapabilityStatement (resourceType OperationOutcome)");
  EXPECT_EQ(error(R"({"fhirVersion":"4.0.1"})"),
            "protocol: metadata: not a CapabilityStatement (resourceType missing)");
  EXPECT_EQ(error(R"([{"resourceType":"CapabilityStatement"}])"),
            "protocol: metadata: not a CapabilityStatement (resourceType missing)");
  EXPECT_EQ(error(R"({"resourceType":"Bad\u0007Type"})"),
            "protocol: metadata: not a CapabilityStatement (resourceType Bad?Type)");
}

}  // namespace
}  // namespace p2p::fhir
