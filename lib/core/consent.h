// The HRex Consent of a $member-match request (and of each member of a $bulk-member-match), and
// the two payers it names. Pure.
//
// Two forms, chosen by what the configuration says about the payers:
//   * both identities known (self.identifier and payers[].identifier): the HRex STU 1.1 Consent
//     (profile hrex-consent), which STU 1 accepts too: status active, scope patient-privacy,
//     category IDSCL (the profile's "disclosure" slice) and LOINC 64292-6, patient, dateTime (the
//     opt-in date), performer (the member), sourceReference (our consent record, by the
//     member_key: an identifier to follow up for audit, no PHI), policy (#regular / #sensitive),
//     provision permit with the consent period, actor "source" (the prior payer, role performer
//     of provenance-participant-type) and "recipient" (us, role IRCP of v3-ParticipationType) as
//     identifier references, and action disclose;
//   * otherwise the Consent sent before identities could be configured (no performer, source,
//     actors or action), which 1up accepts and strict HRex 1.1 / PDex 2.1 payers refuse.
// Holds PHI in its output (the member's dates): never log it.
#pragma once

#include <string>

namespace p2p {

struct MemberRow;

// An organisation in the Consent, named by a business identifier (FHIR Identifier system +
// value: a CMS payer id, a NAIC code) with a display name.
struct ConsentParty {
  std::string name;    // display; "" = none
  std::string system;  // absolute URI or urn: (checked by the configuration)
  std::string value;
  bool known() const { return !system.empty() && !value.empty(); }
};

// The payers of one member's Consent: the prior payer discloses, our plan receives.
struct ConsentParties {
  ConsentParty source;     // the prior payer (payers[].identifier, payers[].name)
  ConsentParty recipient;  // our plan (self.identifier, self.name)
  bool complete() const { return source.known() && recipient.known(); }
};

// Appends the Consent resource (`{"resourceType":"Consent",...}`, id "consent", its member
// references "Patient/member") in the form `parties` allows (see above).
void AppendConsent(std::string& out, const MemberRow& row, const ConsentParties& parties);

}  // namespace p2p
