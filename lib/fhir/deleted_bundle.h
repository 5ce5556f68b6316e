// Reading the deleted[] files of a Bulk Data manifest (Bulk Data v2 "deleted": NDJSON whose lines
// are Bundles; each entry's request says DELETE "Type/id"). Pure: one line in, references out,
// via simdjson's error-code API. Error messages never quote the line (it may carry PHI); they
// name the entry index and what was wrong.
// Threading: DeletedBundleReader is one per stream (it reuses its parser); not thread-safe.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace p2p::fhir {

struct DeletedRef {
  std::string type;  // a FHIR type name
  std::string id;    // a FHIR id
};

class DeletedBundleReader {
 public:
  // `max_entries`: a Bundle with more entries is kTooLarge.
  explicit DeletedBundleReader(size_t max_entries = 100000) : max_entries_(max_entries) {}

  // Appends the references of one line to `out` (nothing on error). Accepted: a JSON object
  // with resourceType "Bundle" and an optional "entry" array (absent or empty: no references);
  // each entry has request.method "DELETE" (case-sensitive, as FHIR's http-verb code) and
  // request.url "Type/id", optionally with a base ("https://x/fhir/Type/id") and a "_history"
  // suffix ("Type/id/_history/2"); entry.fullUrl is not used. Errors: kParse "not valid JSON";
  // kProtocol "not a Bundle", "entry must be an array", "entry N: no request",
  // "entry N: request.method is not DELETE", "entry N: request.url is not Type/id";
  // kTooLarge "more than M entries".
  Result<void> Read(std::string_view line, std::vector<DeletedRef>& out);

 private:
  size_t max_entries_;
  simdjson::dom::parser parser_;
  std::string buffer_;
};

// "Type/id" (after dropping a base URL and a /_history/v suffix) -> the reference; false when
// `url` is not of that shape or the parts are not a FHIR type name and id. Pure.
bool ParseDeleteUrl(std::string_view url, DeletedRef* out);

}  // namespace p2p::fhir
