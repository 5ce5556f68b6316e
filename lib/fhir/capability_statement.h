// Reads a server's FHIR CapabilityStatement (GET [base]/metadata) into the few facts a payer's
// go-live check needs: the FHIR version, the kind, the software, whether SMART-on-FHIR security is
// declared, and whether the operations the daemon uses are advertised. Pure (simdjson), no I/O.
//
// Operations are looked for in rest[].operation[] and rest[].resource[].operation[] of every rest
// entry that is not mode "client". One counts as advertised when its `name` (with or without a
// leading '$', any case) or the last path segment of its `definition` canonical (version suffix
// "|x" dropped, any case, '-' ignored) names it:
//   member-match       name member-match, or .../OperationDefinition/member-match (HRex)
//   bulk-member-match  name bulk-member-match, or .../BulkMemberMatch | bulk-member-match (PDex)
//   export             name export, or .../export | group-export | patient-export (Bulk Data)
//   davinci-data-export name davinci-data-export (PDex), or a definition ending so
// Lists past a bound (16 rest entries, 1000 resources, 256 operations each) are cut there;
// fields of the wrong type are skipped, as a tolerant reader does.
// Errors: kParse for a body that is not JSON; kProtocol "not a CapabilityStatement (resourceType
// X)" for any other JSON (X cut to 64 printable bytes; an OperationOutcome says so). Messages
// never quote more of the body than that.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace p2p::fhir {

struct CapabilitySummary {
  std::string fhir_version;  // fhirVersion, "" when absent (at most 64 bytes)
  std::string kind;          // instance | capability | requirements | "" (at most 64 bytes)
  std::string software;      // "software.name software.version", "" when absent (at most 128 bytes)
  bool smart_on_fhir = false;  // rest[].security.service[].coding[].code SMART-on-FHIR
  bool member_match = false;
  bool bulk_member_match = false;
  bool export_operation = false;
  bool davinci_data_export = false;
};

Result<CapabilitySummary> ReadCapabilityStatement(std::string_view body);

}  // namespace p2p::fhir
