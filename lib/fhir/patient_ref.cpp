#include "fhir/patient_ref.h"

#include <simdjson.h>

#include <cstring>

#include "fhir/ndjson.h"
#include "fhir/padded_buffer.h"

namespace p2p::fhir {

namespace od = simdjson::ondemand;

std::string_view PatientIdOfReference(std::string_view ref) {
  if (const size_t h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
  constexpr std::string_view kPatient = "Patient/";
  std::string_view id;
  if (ref.substr(0, kPatient.size()) == kPatient) {
    id = ref.substr(kPatient.size());
  } else if (const size_t at = ref.rfind("/Patient/");
             at != std::string_view::npos && ref.find("://") != std::string_view::npos) {
    id = ref.substr(at + 1 + kPatient.size());
  }
  return IsFhirId(id) ? id : std::string_view();
}

struct PatientRefReader::Impl {
  od::parser parser;
  PaddedBuffer buf;

  const char* Padded(std::string_view line) { return buf.Copy(line); }
};

PatientRefReader::PatientRefReader() : impl_(std::make_unique<Impl>()) {}
PatientRefReader::~PatientRefReader() = default;

namespace {

// The Patient id of `value` when it is an object with a Patient "reference"; else "".
std::string_view RefOf(od::value value) {
  od::object obj;
  if (value.get_object().get(obj) != simdjson::SUCCESS) return {};
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return {};
    if (key != "reference") continue;
    std::string_view ref;
    if (field.value().get_string().get(ref) != simdjson::SUCCESS) return {};
    return PatientIdOfReference(ref);
  }
  return {};
}

}  // namespace

std::string_view PatientRefReader::PatientOf(std::string_view line) {
  const char* data = impl_->Padded(line);
  od::document doc;
  if (impl_->parser.iterate(data, line.size(), line.size() + simdjson::SIMDJSON_PADDING).get(doc) !=
      simdjson::SUCCESS) {
    return {};
  }
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return {};
  std::string_view type, id, ref;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return {};
    if (key == "resourceType") {
      if (field.value().get_string().get(type) != simdjson::SUCCESS) return {};
    } else if (key == "id") {
      if (field.value().get_string().get(id) != simdjson::SUCCESS) return {};
    } else if (ref.empty() &&
               (key == "subject" || key == "patient" || key == "beneficiary" || key == "member")) {
      od::value v;
      if (field.value().get(v) != simdjson::SUCCESS) return {};
      ref = RefOf(v);
    }
  }
  if (type == "Patient") return IsFhirId(id) ? id : std::string_view();
  return ref;
}

}  // namespace p2p::fhir
