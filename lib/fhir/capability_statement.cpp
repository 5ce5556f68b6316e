#include "fhir/capability_statement.h"

#include <simdjson.h>

#include <algorithm>

namespace p2p::fhir {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

constexpr size_t kMaxRest = 16;
constexpr size_t kMaxResources = 1000;
constexpr size_t kMaxOperations = 256;
constexpr size_t kMaxServices = 16;
constexpr size_t kMaxCanonical = 4096;

// The member's string, or "" when absent or not a string.
std::string_view Text(dom::element e, std::string_view key) {
  std::string_view s;
  if (e.is_object() && e[key].get_string().get(s) == SUCCESS) return s;
  return {};
}

// Printable ASCII only, at most `max` bytes: the text may be printed on an operator's terminal.
std::string Printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

// Up to `max` entries of the member array `key` (none when absent or not an array).
template <typename F>
void ForEach(dom::element e, std::string_view key, size_t max, F&& f) {
  dom::array list;
  if (!e.is_object() || e[key].get_array().get(list) != SUCCESS) return;
  size_t n = 0;
  for (dom::element item : list) {
    if (n++ == max) break;
    f(item);
  }
}

// Lower-case ASCII without '-' and '_': "Bulk-Member_Match" -> "bulkmembermatch".
std::string Folded(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '-' || c == '_') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

void Classify(dom::element op, CapabilitySummary& out) {
  std::string_view name = Text(op, "name");
  if (!name.empty() && name.front() == '$') name.remove_prefix(1);
  std::string_view definition = Text(op, "definition");
  if (definition.size() > kMaxCanonical) definition = {};
  definition = definition.substr(0, definition.find('|'));
  while (!definition.empty() && definition.back() == '/') definition.remove_suffix(1);
  definition = definition.substr(definition.rfind('/') + 1);  // npos + 1 == 0: the whole text
  const std::string n = Folded(name.substr(0, 64)), d = Folded(definition.substr(0, 64));
  const auto is = [&](std::initializer_list<std::string_view> names) {
    return std::any_of(names.begin(), names.end(),
                       [&](std::string_view x) { return n == x || d == x; });
  };
  out.member_match |= is({"membermatch"});
  out.bulk_member_match |= is({"bulkmembermatch"});
  out.export_operation |= is({"export", "groupexport", "patientexport"});
  out.davinci_data_export |= is({"davincidataexport"});
}

}  // namespace

Result<CapabilitySummary> ReadCapabilityStatement(std::string_view body) {
  dom::parser parser;
  dom::element doc;
  if (parser.parse(body.data(), body.size(), true).get(doc) != SUCCESS) {
    return MakeError(ErrorKind::kParse, "metadata: not JSON");
  }
  const std::string_view type = Text(doc, "resourceType");
  if (type != "CapabilityStatement") {
    return MakeError(ErrorKind::kProtocol,
                     "metadata: not a CapabilityStatement (resourceType " +
                         (type.empty() ? std::string("missing") : Printable(type, 64)) + ")");
  }
  CapabilitySummary out;
  out.fhir_version = Printable(Text(doc, "fhirVersion"), 64);
  out.kind = Printable(Text(doc, "kind"), 64);
  dom::element software;
  if (doc["software"].get(software) == SUCCESS) {
    std::string s(Text(software, "name"));
    const std::string_view version = Text(software, "version");
    if (!version.empty()) s += (s.empty() ? "" : " ") + std::string(version);
    out.software = Printable(s, 128);
  }
  ForEach(doc, "rest", kMaxRest, [&](dom::element rest) {
    if (Text(rest, "mode") == "client") return;
    dom::element security;
    if (rest.is_object() && rest["security"].get(security) == SUCCESS) {
      ForEach(security, "service", kMaxServices, [&](dom::element service) {
        ForEach(service, "coding", kMaxServices, [&](dom::element coding) {
          out.smart_on_fhir |= Text(coding, "code") == "SMART-on-FHIR";
        });
      });
    }
    ForEach(rest, "operation", kMaxOperations, [&](dom::element op) { Classify(op, out); });
    ForEach(rest, "resource", kMaxResources, [&](dom::element resource) {
      ForEach(resource, "operation", kMaxOperations, [&](dom::element op) { Classify(op, out); });
    });
  });
  return out;
}

}  // namespace p2p::fhir
