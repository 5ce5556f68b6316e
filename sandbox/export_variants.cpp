#include "export_variants.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdlib>

#include "synth_codec.h"
#include "text_util.h"

namespace p2p::sandbox {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kPayerToPayer = "hl7.fhir.us.davinci-pdex#payertopayer";

KickoffParse Fail(int status, std::string_view code, std::string diagnostics) {
  KickoffParse p;
  p.error = KickoffError{status, std::string(code), std::move(diagnostics)};
  return p;
}

std::vector<std::string_view> SplitOn(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t at = text.find(sep, start);
    out.push_back(
        text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

int TypeIndex(std::string_view name) {
  auto types = Synth::Types();
  auto it = std::find(types.begin(), types.end(), name);
  return it == types.end() ? -1 : static_cast<int>(it - types.begin());
}

KickoffParams Defaults() {
  KickoffParams p;
  p.types = (1u << Synth::Types().size()) - 1;
  p.type_since.assign(Synth::Types().size(), std::nullopt);
  return p;
}

// One `_type` value (comma-joined names) into `mask`; false on an unknown type.
bool AddTypes(std::string_view value, uint32_t& mask) {
  for (std::string_view name : SplitOn(value, ',')) {
    const int t = TypeIndex(name);
    if (t < 0) return false;
    mask |= 1u << t;
  }
  return true;
}

// One `_typeFilter` query: only Type?_lastUpdated=ge|gt<instant> is supported.
std::optional<KickoffError> AddTypeFilter(std::string_view filter, KickoffParams& p) {
  const size_t q = filter.find('?');
  const int t = q == std::string_view::npos ? -1 : TypeIndex(filter.substr(0, q));
  if (t < 0)
    return KickoffError{400, "invalid", "_typeFilter must be Type?search with a known type"};
  std::string_view search = filter.substr(q + 1);
  constexpr std::string_view kKey = "_lastUpdated=";
  if (search.substr(0, kKey.size()) != kKey || search.find('&') != std::string_view::npos) {
    return KickoffError{400, "not-supported",
                        "Unsupported _typeFilter: only Type?_lastUpdated=ge<instant> is supported"};
  }
  search.remove_prefix(kKey.size());
  const bool gt = search.substr(0, 2) == "gt";
  if (!gt && search.substr(0, 2) != "ge") {
    return KickoffError{400, "not-supported",
                        "Unsupported _typeFilter: _lastUpdated needs ge or gt"};
  }
  auto at = ParseInstant(search.substr(2));
  if (!at) return KickoffError{400, "invalid", "_typeFilter _lastUpdated must be a FHIR instant"};
  const int64_t from = *at + (gt ? 1 : 0);
  auto& slot = p.type_since[static_cast<size_t>(t)];
  slot = slot ? std::max(*slot, from) : from;
  return std::nullopt;
}

std::string_view Str(element e, std::string_view key) {
  std::string_view out;
  if (e[key].get_string().get(out)) return {};
  return out;
}

}  // namespace

VariantFlag ParseVariantFlag(std::string_view flag, const std::string& value, VariantOptions* out,
                             std::string* why) {
  auto number = [&](long max, long* n) {
    char* end = nullptr;
    *n = std::strtol(value.c_str(), &end, 10);
    return !value.empty() && value[0] >= '0' && value[0] <= '9' && *end == '\0' && *n <= max;
  };
  long n = 0;
  if (flag == "--error-files") {
    if (!number(1000, &n)) return *why = "expected a line count 0..1000", VariantFlag::kBad;
    out->error_lines = static_cast<int>(n);
  } else if (flag == "--requires-token") {
    if (value != "true" && value != "false")
      return *why = "expected true or false", VariantFlag::kBad;
    out->requires_token = value == "true";
  } else if (flag == "--manifest-page-size") {
    if (!number(10000, &n)) return *why = "expected a file count 0..10000", VariantFlag::kBad;
    out->manifest_page_size = static_cast<size_t>(n);
  } else if (flag == "--file-expires") {
    auto d = ParseDuration(value);
    if (!d) return *why = "expected a duration such as 0s, 500ms or 1h", VariantFlag::kBad;
    out->file_expires = *d;
  } else if (flag == "--match-answer") {
    if (value != "full" && value != "identifier-only") {
      return *why = "expected full or identifier-only", VariantFlag::kBad;
    }
    out->match_identifier_only = value == "identifier-only";
  } else {
    return VariantFlag::kNotMine;
  }
  return VariantFlag::kOk;
}

KickoffRoute RouteKickoff(const std::vector<std::string_view>& s) {
  const bool bulk = s.size() >= 4 && s[0] == "v1" && s[2] == "bulk-data" && s[3] == "r4";
  if (bulk && s.size() == 7 && s[4] == "Group" && s[6] == "$davinci-data-export") {
    return KickoffRoute::kDavinci;
  }
  if (bulk && s.size() == 6 && s[4] == "Patient" && s[5] == "$export")
    return KickoffRoute::kPatient;
  return KickoffRoute::kGroupExport;
}

KickoffParse ParseExportQuery(std::string_view query) {
  KickoffParse out;
  out.params = Defaults();
  bool typed = false;
  uint32_t mask = 0;
  std::vector<std::string> filters;
  for (std::string_view pair : SplitOn(query, '&')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value) return Fail(400, "invalid", "Malformed query string");
    if (*key == "_type") {
      typed = true;
      if (!AddTypes(*value, mask)) return Fail(400, "not-supported", "Unsupported _type");
    } else if (*key == "_since") {
      out.params.since = ParseInstant(*value);
      if (!out.params.since) return Fail(400, "invalid", "_since must be a FHIR instant");
    } else if (*key == "_typeFilter") {
      // Repeated, or comma-joined: a filter's own commas are then ambiguous, so a value that
      // splits into valid filters is taken as several.
      for (std::string_view f : SplitOn(*value, ',')) filters.emplace_back(f);
    } else if (*key == "_outputFormat") {
      if (*value != "application/fhir+ndjson" && *value != "application/ndjson" &&
          *value != "ndjson") {
        return Fail(400, "not-supported", "Unsupported _outputFormat");
      }
    }
  }
  if (typed) out.params.types = mask;
  for (const std::string& f : filters) {
    if (auto e = AddTypeFilter(f, out.params)) return KickoffParse{std::move(e), {}};
  }
  return out;
}

KickoffParse ParseExportParameters(std::string_view body, KickoffRoute route, int64_t now_s) {
  KickoffParse out;
  out.params = Defaults();
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  element doc;
  if (parser.parse(padded).get(doc) || !doc.is_object()) {
    return Fail(400, "invalid", "Malformed JSON body");
  }
  if (Str(doc, "resourceType") != "Parameters") {
    return Fail(400, "invalid", "Body must be a Parameters resource");
  }
  array parameters;
  if (doc["parameter"].get_array().get(parameters)) {
    return Fail(400, "required", "Parameters.parameter is missing");
  }
  const bool davinci = route == KickoffRoute::kDavinci;
  bool typed = false, export_type = false;
  uint32_t mask = 0;
  int patients = 0;
  for (element p : parameters) {
    const std::string_view name = Str(p, "name");
    if (name == "exportType" && davinci) {
      std::string_view v;
      for (std::string_view key : {"valueCanonical", "valueUri", "valueString", "valueCode"}) {
        if (v.empty()) v = Str(p, key);
      }
      if (v != kPayerToPayer) {
        return Fail(400, "invalid", "exportType must be hl7.fhir.us.davinci-pdex#payertopayer");
      }
      export_type = true;
    } else if (name == "_since" || (name == "_until" && davinci)) {
      std::string_view v = Str(p, "valueInstant");
      if (v.empty()) v = Str(p, "valueDateTime");
      auto at = ParseInstant(v);
      if (!at) return Fail(400, "invalid", std::string(name) + " must be a valueInstant");
      if (name == "_since") {
        out.params.since = *at;
      } else if (*at < now_s) {
        // Synth resources are never newer than now: an _until in the past would cut files,
        // which the sandbox's streams cannot do.
        return Fail(400, "not-supported", "p2p-sandbox supports _until only at or after now");
      }
    } else if (name == "_type") {
      typed = true;
      if (!AddTypes(Str(p, "valueString"), mask)) {
        return Fail(400, "not-supported", "Unsupported _type");
      }
    } else if (name == "_typeFilter") {
      if (auto e = AddTypeFilter(Str(p, "valueString"), out.params)) {
        return KickoffParse{std::move(e), {}};
      }
    } else if (name == "_outputFormat") {
      const std::string_view v = Str(p, "valueString");
      if (v != "application/fhir+ndjson" && v != "application/ndjson" && v != "ndjson") {
        return Fail(400, "not-supported", "Unsupported _outputFormat");
      }
    } else if (name == "patient" && !davinci) {
      ++patients;
      element ref;
      std::string_view reference;
      if (!p["valueReference"].get(ref)) reference = Str(ref, "reference");
      constexpr std::string_view kPrefix = "Patient/";
      if (reference.substr(0, kPrefix.size()) != kPrefix || reference.size() == kPrefix.size()) {
        return Fail(400, "invalid", "patient must be a valueReference to Patient/<id>");
      }
      out.params.patient = std::string(reference.substr(kPrefix.size()));
    } else {
      return Fail(400, "not-supported", "Unsupported parameter " + std::string(name.substr(0, 64)));
    }
  }
  if (davinci && !export_type) return Fail(400, "required", "exportType is required");
  if (!davinci && patients != 1) {
    return Fail(400, patients == 0 ? "required" : "not-supported",
                "p2p-sandbox exports exactly one patient per Patient/$export");
  }
  if (typed) out.params.types = mask;
  return out;
}

std::optional<uint64_t> FindMemberByPatientId(const Synth& synth, std::string_view id) {
  const size_t dash = id.rfind('-');
  if (dash == std::string_view::npos || id.size() - dash - 1 != synth::kTokenLen)
    return std::nullopt;
  uint64_t v = 0;
  if (!synth::ParseBase36(id.substr(dash + 1), v)) return std::nullopt;
  const uint64_t index =
      synth::Unpermute(synth::Key(synth.options().seed, synth::kSaltTokenPerm), v);
  if (index >= synth.size() || synth.ResourceId(index, "Patient", 0) != id) return std::nullopt;
  return index;
}

std::string IdentifierOnlyMatchAnswer(const SynthMember& m, std::string_view tenant) {
  std::string out = R"({"resourceType":"Parameters","id":"member-match-out","parameter":[)";
  out += R"({"name":"MemberIdentifier","valueIdentifier":{"type":{"coding":[{"system":)"
         R"("http://terminology.hl7.org/CodeSystem/v2-0203","code":"MB"}]},"system":)";
  AppendJsonString(out, "https://p2p-sandbox.invalid/fhir/" + std::string(tenant) + "/member-id");
  out += R"(,"value":)";
  AppendJsonString(out, m.patient_id);
  out += "}}]}";
  return out;
}

std::string ErrorFileBody(std::string_view job_id, int lines) {
  std::string out;
  for (int i = 0; i < lines; ++i) {
    const bool even = i % 2 == 0;
    out += OperationOutcome(even ? "error" : "warning", even ? "processing" : "not-found",
                            std::string(kDiagnosticMarker) + ": export " + std::string(job_id) +
                                " could not include resource " + std::to_string(i));
    out += '\n';
  }
  return out;
}

}  // namespace p2p::sandbox
