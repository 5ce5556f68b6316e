#include "fhir/deleted_bundle.h"

#include "fhir/ndjson.h"

namespace p2p::fhir {

namespace {

constexpr size_t kMaxUrlBytes = 2048;

Error EntryError(size_t i, std::string_view what) {
  return MakeError(ErrorKind::kProtocol, "entry " + std::to_string(i) + ": " + std::string(what));
}

}  // namespace

bool ParseDeleteUrl(std::string_view url, DeletedRef* out) {
  if (url.empty() || url.size() > kMaxUrlBytes) return false;
  url = url.substr(0, url.find_first_of("?#"));
  // Drop "/_history/<version>".
  if (auto h = url.rfind("/_history/"); h != std::string_view::npos) url = url.substr(0, h);
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  const size_t slash = url.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string_view id = url.substr(slash + 1);
  std::string_view head = url.substr(0, slash);
  const size_t prev = head.rfind('/');
  std::string_view type = prev == std::string_view::npos ? head : head.substr(prev + 1);
  if (!IsFhirTypeName(type) || !IsFhirId(id)) return false;
  // A relative URL must be exactly Type/id; an absolute one may have any base.
  if (prev != std::string_view::npos && url.find("://") == std::string_view::npos) return false;
  out->type.assign(type);
  out->id.assign(id);
  return true;
}

Result<void> DeletedBundleReader::Read(std::string_view line, std::vector<DeletedRef>& out) {
  buffer_.assign(line.data(), line.size());
  buffer_.resize(line.size() + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element doc;
  if (parser_.parse(buffer_.data(), line.size(), false).get(doc) != simdjson::SUCCESS) {
    return MakeError(ErrorKind::kParse, "not valid JSON");
  }
  std::string_view rt;
  if (doc["resourceType"].get_string().get(rt) != simdjson::SUCCESS || rt != "Bundle") {
    return MakeError(ErrorKind::kProtocol, "not a Bundle");
  }
  simdjson::dom::element entries;
  auto err = doc["entry"].get(entries);
  if (err == simdjson::NO_SUCH_FIELD) return Ok();
  simdjson::dom::array array;
  if (err != simdjson::SUCCESS || entries.get_array().get(array) != simdjson::SUCCESS) {
    return MakeError(ErrorKind::kProtocol, "entry must be an array");
  }
  if (array.size() > max_entries_) {
    return MakeError(ErrorKind::kTooLarge, "more than " + std::to_string(max_entries_) + " entries");
  }
  std::vector<DeletedRef> refs;
  refs.reserve(array.size());
  size_t i = 0;
  for (simdjson::dom::element entry : array) {
    simdjson::dom::object request;
    if (entry["request"].get_object().get(request) != simdjson::SUCCESS) {
      return EntryError(i, "no request");
    }
    std::string_view method, url;
    if (request["method"].get_string().get(method) != simdjson::SUCCESS || method != "DELETE") {
      return EntryError(i, "request.method is not DELETE");
    }
    DeletedRef ref;
    if (request["url"].get_string().get(url) != simdjson::SUCCESS || !ParseDeleteUrl(url, &ref)) {
      return EntryError(i, "request.url is not Type/id");
    }
    refs.push_back(std::move(ref));
    ++i;
  }
  for (auto& r : refs) out.push_back(std::move(r));
  return Ok();
}

}  // namespace p2p::fhir
