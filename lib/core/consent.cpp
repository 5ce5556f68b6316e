#include "core/consent.h"

#include <string_view>

#include "core/member.h"

namespace p2p {
namespace {

constexpr std::string_view kHead =
    R"({"resourceType":"Consent","id":"consent","status":"active",)"
    R"("scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope",)"
    R"("code":"patient-privacy"}]},)"
    R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode",)"
    R"("code":"IDSCL"}]})";
constexpr std::string_view kLoincCategory =
    R"(,{"coding":[{"system":"http://loinc.org","code":"64292-6"}]})";
constexpr std::string_view kPatient = R"(],"patient":{"reference":"Patient/member"})";
constexpr std::string_view kPolicyHead =
    R"(,"policy":[{"uri":"http://hl7.org/fhir/us/davinci-hrex/)"
    R"(StructureDefinition-hrex-consent.html#)";
// HRex actor slices, told apart by role.
constexpr std::string_view kSourceRole =
    R"({"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/)"
    R"(provenance-participant-type","code":"performer"}]},)";
constexpr std::string_view kRecipientRole =
    R"({"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/)"
    R"(v3-ParticipationType","code":"IRCP"}]},)";
constexpr std::string_view kDisclose =
    R"(,"action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction",)"
    R"("code":"disclose"}]}])";

// `role` then "reference":{"identifier":{...},"display":...}}
void AppendActor(std::string& out, std::string_view role, const ConsentParty& party) {
  out += role;
  out += R"("reference":{"identifier":{"system":)";
  AppendJsonString(out, party.system);
  out += R"(,"value":)";
  AppendJsonString(out, party.value);
  out += '}';
  if (!party.name.empty()) {
    out += R"(,"display":)";
    AppendJsonString(out, party.name);
  }
  out += "}}";
}

}  // namespace

void AppendConsent(std::string& out, const MemberRow& row, const ConsentParties& parties) {
  const bool strict = parties.complete();
  out += kHead;
  if (strict) out += kLoincCategory;
  out += kPatient;
  if (strict) {
    out += R"(,"dateTime":)";
    AppendJsonString(out, row.opt_in_date);
    out += R"(,"performer":[{"reference":"Patient/member"}])";
    out += R"(,"sourceReference":{"identifier":{"system":"urn:p2p-ingest:consent","value":)";
    AppendJsonString(out, row.member_key);
    out += "}}";
  }
  out += kPolicyHead;
  out += row.consent_policy == "sensitive" ? "sensitive" : "regular";
  out += R"("}],"provision":{"type":"permit","period":{"start":)";
  AppendJsonString(out, row.consent_start);
  out += R"(,"end":)";
  AppendJsonString(out, row.consent_end);
  out += '}';
  if (strict) {
    out += R"(,"actor":[)";
    AppendActor(out, kSourceRole, parties.source);
    out += ',';
    AppendActor(out, kRecipientRole, parties.recipient);
    out += ']';
    out += kDisclose;
  }
  out += "}}";
}

}  // namespace p2p
