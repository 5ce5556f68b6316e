// The resource types of FHIR R4 (4.0.1), the version CMS-0057-F payer APIs serve. Pure.
#pragma once

#include <span>
#include <string_view>

namespace p2p::fhir {

// Every concrete R4 resource type name, sorted (abstract Resource / DomainResource excluded).
std::span<const std::string_view> R4ResourceTypes();

// True when `type` is one of R4ResourceTypes() (exact, case-sensitive).
bool IsR4ResourceType(std::string_view type);

}  // namespace p2p::fhir
