// libFuzzer target: StructuralScan, LineChecker's fast path, against simdjson's DOM parser.
// Invariants: when the scan accepts a line, the DOM parser accepts it too, as an object whose
// "resourceType" and "id" keys occur as often, with the same kinds and string values; and a
// kScanFirst LineChecker gives the same problem and id as a kDomOnly one on every input.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fhir/line_scan.h"
#include "fhir/ndjson.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static p2p::fhir::StructuralScan scan;
  static simdjson::dom::parser parser;
  static p2p::fhir::LineChecker fast;
  static p2p::fhir::LineChecker dom(p2p::fhir::LineChecker::Mode::kDomOnly);

  std::string line(reinterpret_cast<const char*>(data), size);
  line.append(p2p::fhir::kLinePadding, '\0');
  p2p::fhir::TopLevelFields f;
  if (scan.Scan(line.data(), size, f)) {
    simdjson::dom::object obj;
    if (parser.parse(line.data(), size, false).get_object().get(obj) != simdjson::SUCCESS) {
      std::abort();
    }
    p2p::fhir::TopLevelFields d;
    for (simdjson::dom::key_value_pair field : obj) {
      const bool type = field.key == "resourceType";
      if (!type && field.key != "id") continue;
      std::string_view text;
      const bool is_string = field.value.get_string().get(text) == simdjson::SUCCESS;
      (type ? d.type_seen : d.id_seen)++;
      (type ? d.type_is_string : d.id_is_string) = is_string;
      if (is_string) (type ? d.type : d.id) = text;
    }
    if (f.type_seen != d.type_seen || f.id_seen != d.id_seen ||
        f.type_is_string != d.type_is_string || f.id_is_string != d.id_is_string) {
      std::abort();
    }
    if ((f.type_is_string && f.type != d.type) || (f.id_is_string && f.id != d.id)) std::abort();
  }

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string_view type = (size % 2) ? "Patient" : "";
  const p2p::fhir::CheckedLine a = fast.Check(text, type);
  const std::string a_id(a.id);
  const p2p::fhir::CheckedLine b = dom.Check(text, type);
  if (a.problem != b.problem || a_id != b.id) std::abort();
  return 0;
}
