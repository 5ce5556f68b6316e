// The seed document's step 9 $member-match body, byte for byte (shared by the sandbox's unit and
// integration tests).
#pragma once

namespace p2p::testing {

inline constexpr char kSeedMemberMatchBody[] = R"({
"resourceType": "Parameters",
"id": "member-match-in",
"parameter": [
    {
    "name": "MemberPatient",
        "resource": {
        "name": [
            {
                "given": ["Jay"],
                "family": "Young"
            }
            ],
        "birthDate": "2001-03-11"
        }
    },
{
    "name" : "CoverageToMatch",
    "resource" : {
        "identifier" : [
        {
            "value" : "17148123-47da-43a0-8401-8d5d1368db02"
        }
        ]
    }
    }
    ,
    {
    "name": "Consent",
    "resource": {
        "resourceType": "Consent",
        "id": "consent123",
        "status": "active",
        "policy": [
    {
    "uri": "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular"
    }
],
"provision": {
    "type": "permit",
    "period": {
    "start": "2022-01-01",
    "end": "2035-01-31"
    }
}
    }
    }
]
})";

}  // namespace p2p::testing
