// Synth::AppendResource and Synth::LastUpdated: the JSON of each synthetic resource, written
// into a stack buffer from fixed fragments and static tables (no allocation), then appended.
#include <algorithm>

#include "synth.h"
#include "synth_codec.h"
#include "synth_json.h"
#include "synth_member.h"
#include "synth_plan.h"
#include "synth_tables.h"

namespace p2p::sandbox {
namespace {

using synth::JsonBuffer;
using synth::Rng;

constexpr uint64_t kMinute = 60;
constexpr uint64_t kHour = 3600;

// Everything one resource's writer needs besides its own stream.
struct Ctx {
  uint64_t seed;
  uint32_t scale;
  uint64_t index;
  uint64_t k;
  char token[synth::kTokenLen];
};

template <typename T>
const T& Pick(Rng& rng, std::span<const T> table) {
  return table[rng.Below(table.size())];
}

// {"resourceType":"<Type>","id":"<id>","meta":{"lastUpdated":"…","profile":["<profile>"]},
void Head(JsonBuffer& w, const Ctx& c, int t, int64_t last_updated, std::string_view profile) {
  w.Lit(R"({"resourceType":")");
  w.Raw(synth::kTypeNames[static_cast<size_t>(t)]);
  w.Lit(R"(","id":")");
  char id[40];
  w.Raw(id, synth::WriteResourceId(c.seed, c.index, t, c.k, id));
  w.Lit(R"(","meta":{"lastUpdated":")");
  w.Instant(last_updated);
  w.Lit(R"(","profile":[")");
  w.Raw(profile);
  w.Lit(R"("]},)");
}

void PatientRef(JsonBuffer& w, const Ctx& c) {
  w.Lit(R"({"reference":"Patient/pat-)");
  w.Raw(c.token, synth::kTokenLen);
  w.Lit(R"("})");
}

void EncounterRef(JsonBuffer& w, const Ctx& c, uint64_t encounter) {
  w.Lit(R"({"reference":"Encounter/enc-)");
  w.Raw(c.token, synth::kTokenLen);
  w.Char('-');
  w.Uint(encounter);
  w.Lit(R"("})");
}

void PayerRef(JsonBuffer& w) {
  w.Lit(R"({"reference":"Organization/prior-payer","display":"Prior Health Plan"})");
}

void ProviderRef(JsonBuffer& w, const synth::Provider& p) {
  w.Lit(R"({"identifier":{"system":"http://hl7.org/fhir/sid/us-npi","value":")");
  w.Raw(p.npi);
  w.Lit(R"("},"display":")");
  w.Raw(p.name);
  w.Lit(R"("})");
}

// {"coding":[{"system":"<system>","code":"<code>","display":"<display>"}],"text":"<display>"}
void Concept(JsonBuffer& w, std::string_view system, const synth::Code& code, bool text) {
  w.Lit(R"({"coding":[{"system":")");
  w.Raw(system);
  w.Lit(R"(","code":")");
  w.Raw(code.code);
  w.Lit(R"(","display":")");
  w.Raw(code.display);
  w.Lit(R"("}])");
  if (text) {
    w.Lit(R"(,"text":")");
    w.Raw(code.display);
    w.Char('"');
  }
  w.Char('}');
}

constexpr std::string_view kIcd10 = "http://hl7.org/fhir/sid/icd-10-cm";
constexpr std::string_view kCpt = "http://www.ama-assn.org/go/cpt";
constexpr std::string_view kSnomed = "http://snomed.info/sct";

void WritePatient(JsonBuffer& w, const Ctx& c) {
  const synth::MemberTraits m = synth::ComputeMemberTraits(c.seed, c.index);
  const synth::Place& place = synth::Places()[m.place];
  Head(w, c, synth::kPatient, m.record_updated,
       "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient");
  w.Lit(
      R"("identifier":[{"use":"usual","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MB","display":"Member Number"}]},"system":"https://prior-payer.example.org/fhir/sid/member-id","value":")");
  w.Uint(m.member_number);
  w.Lit(R"("}],"active":true,"name":[{"use":"official","family":")");
  w.Raw(m.family);
  w.Lit(R"(","given":[")");
  w.Raw(m.given1);
  if (!m.given2.empty()) {
    w.Lit(R"(",")");
    w.Raw(m.given2);
  }
  w.Lit(R"("]}],"telecom":[{"system":"phone","value":")");
  w.Raw(place.area_code);
  w.Char('-');
  w.Uint(m.phone_suffix / 10000);
  w.Char('-');
  w.Digits(m.phone_suffix % 10000, 4);
  w.Lit(R"(","use":"home"}],"gender":")");
  w.Raw(m.gender);
  w.Lit(R"(","birthDate":")");
  w.Date(m.birth_day);
  w.Lit(R"(","address":[{"use":"home","type":"physical","line":[")");
  w.Uint(m.house_number);
  w.Char(' ');
  w.Raw(synth::Streets()[m.street]);
  w.Lit(R"("],"city":")");
  w.Raw(place.city);
  w.Lit(R"(","state":")");
  w.Raw(place.state);
  w.Lit(R"(","postalCode":")");
  w.Raw(place.zip3);
  w.Digits(m.house_number % 100, 2);
  w.Lit(
      R"j(","country":"US"}],"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en-US","display":"English (United States)"}]},"preferred":true}]})j");
}

void WriteCoverage(JsonBuffer& w, const Ctx& c) {
  static constexpr std::string_view kPlans[] = {"HMO-SILVER", "PPO-GOLD", "EPO-BRONZE"};
  static constexpr std::string_view kPlanNames[] = {"Silver HMO", "Gold PPO", "Bronze EPO"};
  const synth::MemberTraits m = synth::ComputeMemberTraits(c.seed, c.index);
  Head(w, c, synth::kCoverage, m.record_updated,
       "http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Coverage");
  w.Lit(
      R"("identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MB"}]},"system":"https://prior-payer.example.org/fhir/sid/coverage-id","value":")");
  char coverage_id[synth::kCoverageIdLen];
  synth::WriteCoverageId(c.seed, c.index, coverage_id);
  w.Raw(coverage_id, sizeof coverage_id);
  w.Lit(
      R"("}],"status":"active","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HIP","display":"health insurance plan policy"}]},"subscriberId":")");
  w.Uint(m.member_number);
  w.Lit(R"(","subscriber":)");
  PatientRef(w, c);
  w.Lit(R"(,"beneficiary":)");
  PatientRef(w, c);
  w.Lit(
      R"(,"relationship":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/subscriber-relationship","code":"self"}]},"period":{"start":")");
  w.Date(m.prior_coverage_start);
  w.Lit(R"(","end":")");
  w.Date(m.coverage_start - 1);
  w.Lit(R"("},"payor":[)");
  PayerRef(w);
  w.Lit(
      R"(],"class":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-class","code":"group"}]},"value":"GRP)");
  w.Digits(1000 + m.employer_group, 5);
  w.Lit(R"(","name":")");
  w.Raw(synth::EmployerGroups()[m.employer_group]);
  w.Lit(
      R"("},{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-class","code":"plan"}]},"value":")");
  const size_t plan = m.member_number % 3;
  w.Raw(kPlans[plan]);
  w.Lit(R"(","name":")");
  w.Raw(kPlanNames[plan]);
  w.Lit(R"("}]})");
}

void WriteEob(JsonBuffer& w, const Ctx& c, synth::ResourceBasics& b) {
  const bool institutional = b.rng.Percent(20);
  Head(w, c, synth::kEob, b.last_updated,
       institutional ? "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
                       "C4BB-ExplanationOfBenefit-Outpatient-Institutional"
                     : "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
                       "C4BB-ExplanationOfBenefit-Professional-NonClinician");
  w.Lit(
      R"("identifier":[{"type":{"coding":[{"system":"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType","code":"uc"}]},"system":"https://prior-payer.example.org/fhir/sid/claim-id","value":"CLM-)");
  w.Raw(c.token, synth::kTokenLen);
  w.Char('-');
  w.Uint(c.k);
  w.Lit(
      R"("}],"status":"active","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":")");
  if (institutional) {
    w.Lit(R"(institutional"}]},"use":"claim","patient":)");
  } else {
    w.Lit(R"(professional"}]},"use":"claim","patient":)");
  }
  PatientRef(w, c);
  const int64_t end_day = b.day + (institutional ? static_cast<int64_t>(b.rng.Below(4)) : 0);
  w.Lit(R"(,"billablePeriod":{"start":")");
  w.Date(b.day);
  w.Lit(R"(","end":")");
  w.Date(end_day);
  w.Lit(R"("},"created":")");
  w.Date(end_day);
  w.Lit(R"(","insurer":)");
  PayerRef(w);
  const synth::Provider& provider = Pick(b.rng, synth::Providers());
  w.Lit(R"(,"provider":)");
  ProviderRef(w, provider);
  w.Lit(R"(,"outcome":"complete","diagnosis":[{"sequence":1,"diagnosisCodeableConcept":)");
  Concept(w, kIcd10, Pick(b.rng, synth::Diagnoses()), false);
  w.Lit(
      R"(,"type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/ex-diagnosistype","code":"principal"}]}]}],"insurance":[{"focal":true,"coverage":{"reference":"Coverage/cov-)");
  w.Raw(c.token, synth::kTokenLen);
  w.Lit(R"("}}],"item":[)");
  const uint64_t items = 1 + b.rng.Below(3);
  for (uint64_t i = 1; i <= items; ++i) {
    if (i > 1) w.Char(',');
    w.Lit(R"({"sequence":)");
    w.Uint(i);
    w.Lit(R"(,"productOrService":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":")");
    w.Raw(Pick(b.rng, synth::ClaimServices()).code);
    w.Lit(R"("}]})");
    w.Lit(R"(,"servicedDate":")");
    w.Date(b.day);
    w.Lit(R"(","quantity":{"value":1}})");
  }
  w.Lit("]}");
}

void WriteEncounter(JsonBuffer& w, const Ctx& c, synth::ResourceBasics& b) {
  Head(w, c, synth::kEncounter, b.last_updated,
       "http://hl7.org/fhir/us/core/StructureDefinition/us-core-encounter");
  const synth::EncounterType& type = Pick(b.rng, synth::EncounterTypes());
  w.Lit(
      R"("status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":")");
  w.Raw(type.act_class);
  w.Lit(R"("},"type":[)");
  Concept(w, kSnomed, synth::Code{type.snomed, type.display}, false);
  w.Lit(R"(],"subject":)");
  PatientRef(w, c);
  const int64_t start = b.day * 86400 + static_cast<int64_t>(8 * kHour + b.rng.Below(9 * kHour));
  const int64_t minutes = static_cast<int64_t>(15 + b.rng.Below(76));
  w.Lit(R"(,"period":{"start":")");
  w.Instant(start);
  w.Lit(R"(","end":")");
  w.Instant(start + minutes * static_cast<int64_t>(kMinute));
  w.Lit(R"("},"reasonCode":[)");
  Concept(w, kIcd10, Pick(b.rng, synth::Diagnoses()), false);
  w.Lit(R"(],"serviceProvider":)");
  ProviderRef(w, Pick(b.rng, synth::Providers()));
  w.Char('}');
}

void WriteObservation(JsonBuffer& w, const Ctx& c, synth::ResourceBasics& b) {
  const synth::LabTest& test = Pick(b.rng, synth::LabTests());
  Head(w, c, synth::kObservation, b.last_updated,
       test.vital_sign ? "http://hl7.org/fhir/us/core/StructureDefinition/us-core-vital-signs"
                       : "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab");
  w.Lit(
      R"("status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":")");
  if (test.vital_sign) {
    w.Lit(R"(vital-signs","display":"Vital Signs"}]}],"code":)");
  } else {
    w.Lit(R"(laboratory","display":"Laboratory"}]}],"code":)");
  }
  Concept(w, "http://loinc.org", synth::Code{test.loinc, test.display}, true);
  w.Lit(R"(,"subject":)");
  PatientRef(w, c);
  w.Lit(R"(,"encounter":)");
  EncounterRef(w, c, b.encounter);
  const int64_t effective =
      b.day * 86400 + static_cast<int64_t>(8 * kHour + b.rng.Below(9 * kHour));
  w.Lit(R"(,"effectiveDateTime":")");
  w.Instant(effective);
  w.Lit(R"(","issued":")");
  w.Instant(effective + static_cast<int64_t>(kHour + b.rng.Below(20 * kHour)));
  w.Lit(R"(","valueQuantity":{"value":)");
  w.Tenths(test.low_tenths + b.rng.Below(test.high_tenths - test.low_tenths + 1));
  w.Lit(R"(,"unit":")");
  w.Raw(test.unit);
  w.Lit(R"(","system":"http://unitsofmeasure.org","code":")");
  w.Raw(test.unit);
  w.Lit(R"("}})");
}

void WriteCondition(JsonBuffer& w, const Ctx& c, synth::ResourceBasics& b) {
  Head(w, c, synth::kCondition, b.last_updated,
       "http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-encounter-diagnosis");
  const bool resolved = b.rng.Percent(30);
  w.Lit(
      R"("clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":")");
  if (resolved) {
    w.Lit("resolved");
  } else {
    w.Lit("active");
  }
  w.Lit(
      R"("}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"encounter-diagnosis","display":"Encounter Diagnosis"}]}],"code":)");
  Concept(w, kIcd10, Pick(b.rng, synth::Diagnoses()), true);
  w.Lit(R"(,"subject":)");
  PatientRef(w, c);
  w.Lit(R"(,"encounter":)");
  EncounterRef(w, c, b.encounter);
  w.Lit(R"(,"onsetDateTime":")");
  w.Date(b.day - static_cast<int64_t>(b.rng.Below(60)));
  if (resolved) {
    w.Lit(R"(","abatementDateTime":")");
    w.Date(b.day + 7 + static_cast<int64_t>(b.rng.Below(60)));
  }
  w.Lit(R"(","recordedDate":")");
  w.Date(b.day);
  w.Lit(R"("})");
}

void WriteProcedure(JsonBuffer& w, const Ctx& c, synth::ResourceBasics& b) {
  Head(w, c, synth::kProcedure, b.last_updated,
       "http://hl7.org/fhir/us/core/StructureDefinition/us-core-procedure");
  w.Lit(R"("status":"completed","code":)");
  Concept(w, kCpt, Pick(b.rng, synth::Procedures()), true);
  w.Lit(R"(,"subject":)");
  PatientRef(w, c);
  w.Lit(R"(,"encounter":)");
  EncounterRef(w, c, b.encounter);
  w.Lit(R"(,"performedDateTime":")");
  w.Instant(b.day * 86400 + static_cast<int64_t>(8 * kHour + b.rng.Below(9 * kHour)));
  w.Lit(R"(","performer":[{"actor":)");
  ProviderRef(w, Pick(b.rng, synth::Providers()));
  w.Lit(R"(}],"reasonCode":[)");
  Concept(w, kIcd10, Pick(b.rng, synth::Diagnoses()), false);
  w.Lit("]}");
}

void WriteMedicationRequest(JsonBuffer& w, const Ctx& c, synth::ResourceBasics& b) {
  Head(w, c, synth::kMedicationRequest, b.last_updated,
       "http://hl7.org/fhir/us/core/StructureDefinition/us-core-medicationrequest");
  const synth::Medication& med = Pick(b.rng, synth::Medications());
  if (b.rng.Percent(40)) {
    w.Lit(R"("status":"active")");
  } else {
    w.Lit(R"("status":"completed")");
  }
  w.Lit(
      R"(,"intent":"order","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/medicationrequest-category","code":"community","display":"Community"}]}],"medicationCodeableConcept":)");
  Concept(w, "http://www.nlm.nih.gov/research/umls/rxnorm", synth::Code{med.rxnorm, med.display},
          true);
  w.Lit(R"(,"subject":)");
  PatientRef(w, c);
  w.Lit(R"(,"encounter":)");
  EncounterRef(w, c, b.encounter);
  w.Lit(R"(,"authoredOn":")");
  w.Date(b.day);
  w.Lit(R"(","requester":)");
  ProviderRef(w, Pick(b.rng, synth::Providers()));
  w.Lit(R"(,"dosageInstruction":[{"text":")");
  w.Raw(med.dosage);
  w.Lit(R"("}],"dispenseRequest":{"numberOfRepeatsAllowed":)");
  w.Uint(b.rng.Below(6));
  w.Lit(R"(,"expectedSupplyDuration":{"value":)");
  w.Uint(b.rng.Percent(70) ? 30 : 90);
  w.Lit(R"(,"unit":"days","system":"http://unitsofmeasure.org","code":"d"}}})");
}

void WriteSpecimen(JsonBuffer& w, const Ctx& c, synth::ResourceBasics& b) {
  Head(w, c, synth::kSpecimen, b.last_updated,
       "http://hl7.org/fhir/us/core/StructureDefinition/us-core-specimen");
  w.Lit(
      R"("accessionIdentifier":{"system":"https://prior-payer.example.org/fhir/sid/accession","value":"ACC)");
  w.Digits(b.rng.Below(10000000000), 10);
  w.Lit(R"("},"status":"available","type":)");
  Concept(w, kSnomed, Pick(b.rng, synth::SpecimenTypes()), false);
  w.Lit(R"(,"subject":)");
  PatientRef(w, c);
  const int64_t collected =
      b.day * 86400 + static_cast<int64_t>(8 * kHour + b.rng.Below(9 * kHour));
  w.Lit(R"(,"receivedTime":")");
  w.Instant(collected + static_cast<int64_t>(30 * kMinute + b.rng.Below(6 * kHour)));
  w.Lit(R"(","collection":{"collector":)");
  ProviderRef(w, Pick(b.rng, synth::Providers()));
  w.Lit(R"(,"collectedDateTime":")");
  w.Instant(collected);
  w.Lit(R"("}})");
}

}  // namespace

int64_t Synth::LastUpdated(uint64_t index, std::string_view type, uint64_t k) const {
  const int t = synth::FindType(type);
  if (t < 0) return 0;
  if (t == synth::kPatient || t == synth::kCoverage) {
    return synth::ComputeMemberTraits(options_.seed, index).record_updated;
  }
  return synth::Basics(options_.seed, options_.resource_scale, index, t, k).last_updated;
}

void Synth::AppendResource(uint64_t index, std::string_view type, uint64_t k,
                           std::string& out) const {
  const int t = synth::FindType(type);
  if (t < 0) return;
  Ctx c{options_.seed, options_.resource_scale, index, k, {}};
  synth::WriteMemberToken(c.seed, index, c.token);
  JsonBuffer w;
  if (t == synth::kPatient) {
    WritePatient(w, c);
  } else if (t == synth::kCoverage) {
    WriteCoverage(w, c);
  } else {
    synth::ResourceBasics b = synth::Basics(c.seed, c.scale, index, t, k);
    switch (t) {
      case synth::kEob:
        WriteEob(w, c, b);
        break;
      case synth::kEncounter:
        WriteEncounter(w, c, b);
        break;
      case synth::kObservation:
        WriteObservation(w, c, b);
        break;
      case synth::kCondition:
        WriteCondition(w, c, b);
        break;
      case synth::kProcedure:
        WriteProcedure(w, c, b);
        break;
      case synth::kMedicationRequest:
        WriteMedicationRequest(w, c, b);
        break;
      default:
        WriteSpecimen(w, c, b);
        break;
    }
  }
  out.append(w.view());
}

}  // namespace p2p::sandbox
