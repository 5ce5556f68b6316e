#include "pipeline/export_request.h"

#include <cstdio>

#include "pipeline/step_util.h"

namespace p2p::pipeline {
namespace {

constexpr std::string_view kPayerToPayer = "hl7.fhir.us.davinci-pdex#payertopayer";

std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

std::string JoinTypes(const std::vector<std::string>& types) {
  std::string out;
  for (const std::string& t : types) {
    if (!out.empty()) out += ',';
    out += t;
  }
  return out;
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

// Appends one {"name":..,"value<kind>":..} entry to a Parameters body being built.
void AppendParameter(std::string& body, std::string_view name, std::string_view kind,
                     std::string_view value) {
  if (body.back() != '[') body += ',';
  body += R"({"name":)";
  AppendJsonString(body, name);
  body += R"(,"value)";
  body += kind;
  body += R"(":)";
  if (kind == "Reference") {
    body += R"({"reference":)";
    AppendJsonString(body, value);
    body += '}';
  } else {
    AppendJsonString(body, value);
  }
  body += '}';
}

void AppendQuery(std::string& url, std::string_view key, std::string_view encoded_value) {
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += key;
  url += '=';
  url += encoded_value;
}

}  // namespace

std::string_view ExportOperationName(ExportOperation op) {
  switch (op) {
    case ExportOperation::kDavinciDataExport:
      return "davinci-data-export";
    case ExportOperation::kPatientExport:
      return "patient-export";
    case ExportOperation::kGroupExport:
      break;
  }
  return "group-export";
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

std::string PatientReference(std::string_view member_identifier) {
  if (member_identifier.find('/') != std::string_view::npos) return std::string(member_identifier);
  return "Patient/" + std::string(member_identifier);
}

Result<http::Request> BuildExportRequest(const PayerOptions& payer, const ExportTarget& target,
                                         std::string_view since, std::string_view until) {
  const ExportOptions& eo = payer.export_job;
  const ExportOperation op = eo.operation;
  if (op != ExportOperation::kPatientExport && target.group_id.empty()) {
    return MakeError(ErrorKind::kInvalid,
                     "export kick-off: no Group id for " + std::string(ExportOperationName(op)));
  }
  if (op == ExportOperation::kPatientExport && target.member_identifier.empty()) {
    return MakeError(ErrorKind::kInvalid,
                     "export kick-off: no member identifier for patient-export");
  }
  http::Request req;
  req.headers = {{"Accept", "application/fhir+json"}, {"Prefer", "respond-async"}};
  std::string url;
  if (op == ExportOperation::kGroupExport) {
    url = JoinUrl(payer.base_url, ReplaceAll(payer.export_path, "{group_id}", target.group_id));
    if (!eo.types.empty()) AppendQuery(url, "_type", PercentEncode(JoinTypes(eo.types)));
    for (const std::string& f : eo.type_filters) AppendQuery(url, "_typeFilter", PercentEncode(f));
    if (!since.empty()) AppendQuery(url, "_since", PercentEncode(since));
  } else {
    req.method = "POST";
    req.headers.push_back({"Content-Type", "application/fhir+json"});
    std::string& body = req.body;
    body = R"({"resourceType":"Parameters","parameter":[)";
    if (op == ExportOperation::kDavinciDataExport) {
      url = JoinUrl(payer.base_url, ReplaceAll(eo.davinci_path, "{group_id}", target.group_id));
      AppendParameter(body, "exportType", "Canonical", kPayerToPayer);
    } else {
      url = JoinUrl(payer.base_url, eo.patient_path);
      AppendParameter(body, "patient", "Reference", PatientReference(target.member_identifier));
    }
    if (!since.empty()) AppendParameter(body, "_since", "Instant", since);
    if (!until.empty() && op == ExportOperation::kDavinciDataExport) {
      AppendParameter(body, "_until", "Instant", until);
    }
    if (!eo.types.empty()) AppendParameter(body, "_type", "String", JoinTypes(eo.types));
    for (const std::string& f : eo.type_filters) AppendParameter(body, "_typeFilter", "String", f);
    body += "]}";
  }
  auto parsed = Url::Parse(url);
  if (!parsed) return std::move(parsed).error();
  req.url = std::move(parsed).value();
  return req;
}

}  // namespace p2p::pipeline
