// A Consent that conforms to HRex STU 1.1 hrex-consent, as p2p-sandbox --hrex 1.1 accepts it
// (shared by the sandbox's unit and integration tests). The source payer (role performer) is
// the prior payer that discloses, the recipient (role IRCP) the plan that asks.
#pragma once

namespace p2p::testing {

inline constexpr char kHrexConsent[] = R"({
  "resourceType": "Consent",
  "status": "active",
  "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": "patient-privacy"}]},
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                            "code": "IDSCL"}]}],
  "patient": {"reference": "Patient/1"},
  "performer": [{"reference": "Patient/1"}],
  "sourceReference": {"reference": "http://example.org/DocumentReference/someconsent"},
  "policy": [{"uri": "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular"}],
  "provision": {
    "type": "permit",
    "period": {"start": "2022-01-01", "end": "2035-01-31"},
    "actor": [
      {"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "performer"}]},
       "reference": {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "9876543210"},
                     "display": "Old Health Plan"}},
      {"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": "IRCP"}]},
       "reference": {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "0123456789"},
                     "display": "New Health Plan"}}
    ],
    "action": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction",
                            "code": "disclose"}]}]
  }
})";

}  // namespace p2p::testing
