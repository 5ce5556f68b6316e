#include "core/bulk_member_match.h"

namespace p2p {

namespace {

constexpr std::string_view kHead = R"({"resourceType":"Parameters","parameter":[)";
constexpr std::string_view kTail = "]}";
constexpr std::string_view kPatientHead = R"("resourceType":"Patient","id":"member")";
constexpr std::string_view kPatientRef = R"("Patient/member")";

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
}

}  // namespace

std::string BulkMemberRef(int64_t job_id) { return "m" + std::to_string(job_id); }

std::string BuildBulkMemberMatchBody(
    const std::vector<std::pair<std::string, MemberRow>>& members, const ConsentParties& parties) {
  std::string out(kHead);
  bool first = true;
  for (const auto& [ref, row] : members) {
    // The single-member body is {"resourceType":"Parameters","parameter":[PARTS]}: its PARTS
    // become the MemberBundle's parts, with the member's own Patient id.
    std::string parts = BuildMemberMatchBody(row, parties);
    parts = parts.substr(kHead.size(), parts.size() - kHead.size() - kTail.size());
    std::string patient_head = R"("resourceType":"Patient","id":")";
    patient_head += ref;
    patient_head += R"(","identifier":[{"system":"urn:p2p-ingest:bulk-member","value":")";
    patient_head += ref;
    patient_head += R"("}])";
    ReplaceAll(parts, kPatientHead, patient_head);
    ReplaceAll(parts, kPatientRef, "\"Patient/" + ref + "\"");
    if (!first) out += ',';
    first = false;
    out += R"({"name":"MemberBundle","part":[)";
    out += parts;
    out += "]}";
  }
  out += kTail;
  return out;
}

}  // namespace p2p
