#include "capability_statement.h"

#include "text_util.h"

namespace p2p::sandbox {
namespace {

constexpr std::string_view kMemberMatch =
    "http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match";
constexpr std::string_view kBulkMemberMatch =
    "http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch";
constexpr std::string_view kPatientExport =
    "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";
constexpr std::string_view kGroupExport =
    "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";

void AppendOperation(std::string& out, std::string_view name, std::string_view definition) {
  out += R"({"name":)";
  AppendJsonString(out, name);
  out += R"(,"definition":)";
  AppendJsonString(out, definition);
  out += '}';
}

}  // namespace

bool IsMetadataPath(const std::vector<std::string_view>& s) {
  if (s.size() < 3 || s[0] != "v1" || s.back() != "metadata") return false;
  return s.size() == 3 || (s.size() == 5 && s[2] == "bulk-data" && s[3] == "r4");
}

std::string CapabilityStatementJson(std::string_view service_base, std::string_view token_url) {
  std::string out =
      R"({"resourceType":"CapabilityStatement","status":"active","date":"2026-01-01",)"
      R"("publisher":"p2p-sandbox","kind":"instance",)"
      R"("software":{"name":"p2p-sandbox"},"implementation":{"description":"p2p-sandbox prior payer","url":)";
  AppendJsonString(out, service_base);
  out +=
      R"(},"fhirVersion":"4.0.1","format":["json"],"rest":[{"mode":"server","security":{)"
      R"("extension":[{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",)"
      R"("extension":[{"url":"token","valueUri":)";
  AppendJsonString(out, token_url);
  out +=
      R"(}]}],"service":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/restful-security-service",)"
      R"("code":"SMART-on-FHIR"}]}]},"resource":[{"type":"Patient","operation":[)";
  AppendOperation(out, "member-match", kMemberMatch);
  out += ',';
  AppendOperation(out, "export", kPatientExport);
  out += R"(]},{"type":"Group","operation":[)";
  AppendOperation(out, "bulk-member-match", kBulkMemberMatch);
  out += ',';
  AppendOperation(out, "export", kGroupExport);
  out += "]}]}]}";
  return out;
}

}  // namespace p2p::sandbox
