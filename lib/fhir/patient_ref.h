// Which Patient an NDJSON resource line belongs to, for Group exports that carry several members'
// resources in one file (pipeline/bulk_match.h attributes each line to a member_key by it).
//
// Rule: a Patient is its own ("id"); any other resource belongs to the Patient its first
// top-level "subject", "patient", "beneficiary" or "member" reference names (in that order of
// keys as they appear in the line): "Patient/<id>", an absolute ".../Patient/<id>", either with
// an optional "/_history/<v>" suffix. Contained ("#x") and other references do not count; <id>
// must be a FHIR id. No such reference: "" (the caller decides where such lines go).
//
// PatientRefReader parses with a reused simdjson on-demand parser and a reused padded buffer: no
// allocation per line once the longest line has been seen. The line is parsed a second time
// (after LineChecker's check); only Group export files pay for it.
// Threading: one reader per stream; not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace p2p::fhir {

// The Patient id a reference string names, or "" (see the rule above). Pure.
std::string_view PatientIdOfReference(std::string_view reference);

class PatientRefReader {
 public:
  PatientRefReader();
  ~PatientRefReader();
  PatientRefReader(const PatientRefReader&) = delete;
  PatientRefReader& operator=(const PatientRefReader&) = delete;

  // The Patient id `line` (one JSON object, no newline) belongs to, or "" when it names none or
  // is not a JSON object. The view is valid until the next call.
  std::string_view PatientOf(std::string_view line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace p2p::fhir
