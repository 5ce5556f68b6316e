// Built-in vocabularies for the synthetic data: names, places, providers and the clinical codes
// (LOINC, ICD-10-CM, CPT, RxNorm, SNOMED CT) resources draw from. Static, immutable, JSON-safe
// ASCII (no quotes or backslashes), so writers copy them without escaping.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace p2p::sandbox::synth {

struct Place {
  std::string_view city;
  std::string_view state;
  std::string_view zip3;  // first three digits of the ZIP code
  std::string_view area_code;
};

struct Provider {
  std::string_view name;
  std::string_view npi;
};

struct Code {
  std::string_view code;
  std::string_view display;
};

struct LabTest {
  std::string_view loinc;
  std::string_view display;
  std::string_view unit;  // UCUM, also shown as the unit
  uint32_t low_tenths;    // plausible value range, in tenths
  uint32_t high_tenths;
  bool vital_sign;  // category vital-signs, else laboratory
};

struct Medication {
  std::string_view rxnorm;
  std::string_view display;
  std::string_view dosage;
};

struct EncounterType {
  std::string_view act_class;  // v3-ActCode: AMB | EMER | IMP
  std::string_view snomed;
  std::string_view display;
};

std::span<const std::string_view> MaleGivenNames();
std::span<const std::string_view> FemaleGivenNames();
std::span<const std::string_view> FamilyNames();
std::span<const std::string_view> Streets();
std::span<const Place> Places();
std::span<const Provider> Providers();
std::span<const std::string_view> EmployerGroups();
std::span<const LabTest> LabTests();
std::span<const Code> Diagnoses();          // ICD-10-CM
std::span<const Code> ClaimServices();      // CPT on claim lines
std::span<const Code> Procedures();         // CPT
std::span<const Medication> Medications();  // RxNorm
std::span<const EncounterType> EncounterTypes();
std::span<const Code> SpecimenTypes();  // SNOMED CT

}  // namespace p2p::sandbox::synth
