// The sandbox's FHIR R4 CapabilityStatement, answered at GET [base]/metadata (no token needed),
// so that `p2p-ingestd probe` and other clients can see what the prior payer offers before they
// send member data. [base] is /v1/{tenant} (the daemon's base_url) or /v1/{tenant}/bulk-data/r4.
// Written by hand here (not with the daemon's readers): the sandbox is a second reading of the
// specifications. Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace p2p::sandbox {

// True for the path segments of a metadata request: {"v1", tenant, "metadata"} or
// {"v1", tenant, "bulk-data", "r4", "metadata"}. The caller checks the tenant.
bool IsMetadataPath(const std::vector<std::string_view>& segments);

// The CapabilityStatement: fhirVersion 4.0.1, kind instance, implementation.url `service_base`,
// rest mode server with security service SMART-on-FHIR (its oauth-uris extension names
// `token_url`), Patient $member-match (HRex) and $export, Group $bulk-member-match (PDex) and
// $export, each with its canonical OperationDefinition.
std::string CapabilityStatementJson(std::string_view service_base, std::string_view token_url);

}  // namespace p2p::sandbox
