// The export kick-off request of one member, as the payer's export.operation asks for it
// (the operations below). Pure: options + ids in, an http::Request out; no I/O, no clock.
//
//   group-export         GET  {base}{export_path}?_type=..&_typeFilter=..&_since=..   (Bulk Data
//   v2,
//                        the 1up seed; {group_id} replaced)
//   davinci-data-export  POST {base}{export.davinci_path} with a FHIR Parameters body: exportType
//                        (valueCanonical hl7.fhir.us.davinci-pdex#payertopayer), _since / _until
//                        (valueInstant), _type (one valueString, comma-joined), _typeFilter (one
//                        valueString per filter)   (PDex STU 2.1 $davinci-data-export)
//   patient-export       POST {base}{export.patient_path} with a Parameters body: patient
//                        (valueReference "Patient/<member identifier>"), _type, _typeFilter, _since
//                        (Bulk Data v2 POST kick-off)
// In the query string `_typeFilter` is repeated, one per filter, each percent-encoded (Bulk Data
// v2 allows repeating it; filters may contain commas of their own).
//
// Every request carries `Accept: application/fhir+json` and `Prefer: respond-async`; the POSTs
// also `Content-Type: application/fhir+json`. The bearer token is added later (PayerClient).
//
// Refresh (concurrent coverage): pass the previous manifest's transactionTime as `since`; ""
// sends no `_since`. `until` likewise (davinci-data-export only; ignored by the others).
#pragma once

#include <string>
#include <string_view>

#include "config/options.h"
#include "core/result.h"
#include "http/client.h"

namespace p2p::pipeline {

struct ExportTarget {
  std::string group_id;           // from $member-match (group-export, davinci-data-export)
  std::string member_identifier;  // from $member-match (patient-export)
};

// Errors (kInvalid, no PHI): "export kick-off: no Group id for <operation>", "export kick-off:
// no member identifier for patient-export", or the URL parser's message.
Result<http::Request> BuildExportRequest(const PayerOptions& payer, const ExportTarget& target,
                                         std::string_view since, std::string_view until = {});

// "Patient/<id>" for a bare id; a value that already is a relative reference ("Patient/x") or an
// absolute URL is kept as given.
std::string PatientReference(std::string_view member_identifier);

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string PercentEncode(std::string_view text);

// "group-export" | "davinci-data-export" | "patient-export".
std::string_view ExportOperationName(ExportOperation op);

}  // namespace p2p::pipeline
