#include "lifecycle_data.h"

#include <algorithm>

#include "text_util.h"

namespace p2p::sandbox {

namespace {
constexpr std::string_view kType = "Observation";
}  // namespace

uint32_t LifecycleData::OnExport(uint64_t member, int64_t created_ms) {
  std::lock_guard lock(mu_);
  auto& g = generations_[member];
  g.push_back(created_ms);
  return static_cast<uint32_t>(g.size() - 1);
}

std::vector<uint32_t> LifecycleData::Included(uint64_t member, uint32_t generation,
                                              std::optional<int64_t> since) const {
  std::vector<uint32_t> out;
  if (options_.updates_per_export == 0 || generation == 0) return out;
  std::lock_guard lock(mu_);
  auto it = generations_.find(member);
  if (it == generations_.end()) return out;
  for (uint32_t g = 1; g <= generation && g < it->second.size(); ++g) {
    if (!since || it->second[g] / 1000 >= *since) out.push_back(g);
  }
  return out;
}

std::vector<std::string> LifecycleData::NewIds(uint64_t member, uint32_t generation,
                                               std::optional<int64_t> since) const {
  std::vector<std::string> ids;
  for (uint32_t g : Included(member, generation, since)) {
    for (uint32_t j = 0; j < options_.updates_per_export; ++j) {
      ids.push_back("lc" + std::to_string(member) + "g" + std::to_string(g) + "n" +
                    std::to_string(j));
    }
  }
  return ids;
}

uint64_t LifecycleData::ExtraCount(uint64_t member, std::string_view type, uint32_t generation,
                                   std::optional<int64_t> since) const {
  if (type != kType) return 0;
  const auto gens = Included(member, generation, since);
  if (gens.empty()) return 0;
  const uint64_t reversioned =
      std::min<uint64_t>(options_.updates_per_export, synth_.ResourceCount(member, kType));
  return gens.size() * options_.updates_per_export + reversioned;
}

std::string LifecycleData::ExtraLines(uint64_t member, std::string_view type,
                                      uint32_t generation, std::optional<int64_t> since) const {
  std::string out;
  if (type != kType) return out;
  const auto gens = Included(member, generation, since);
  if (gens.empty()) return out;
  const std::string patient = synth_.ResourceId(member, "Patient", 0);
  for (uint32_t g : gens) {
    int64_t at_ms = 0;
    {
      std::lock_guard lock(mu_);
      at_ms = generations_.at(member)[g];
    }
    for (uint32_t j = 0; j < options_.updates_per_export; ++j) {
      out += R"({"resourceType":"Observation","id":"lc)" + std::to_string(member) + "g" +
             std::to_string(g) + "n" + std::to_string(j) + R"(","meta":{"versionId":"1",)";
      out += R"("lastUpdated":)";
      AppendJsonString(out, FormatInstant(at_ms));
      out += R"(},"status":"final","code":{"text":"refresh update"},"subject":{"reference":)";
      AppendJsonString(out, "Patient/" + patient);
      out += "}}\n";
    }
  }
  // Re-versions: the member's first K Observations again (same ids).
  const uint64_t n =
      std::min<uint64_t>(options_.updates_per_export, synth_.ResourceCount(member, kType));
  for (uint64_t k = 0; k < n; ++k) {
    synth_.AppendResource(member, kType, k, out);
    out += '\n';
  }
  return out;
}

std::vector<std::string> LifecycleData::DeletedRefs(uint64_t member) const {
  std::vector<std::string> refs;
  const uint64_t n = std::min<uint64_t>(options_.deleted_files, synth_.ResourceCount(member, kType));
  for (uint64_t k = 0; k < n; ++k) {
    refs.push_back("Observation/" + synth_.ResourceId(member, kType, k));
  }
  return refs;
}

std::string LifecycleData::DeletedFile(uint64_t member) const {
  if (options_.deleted_files == 0) return "";
  std::string out = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  bool first = true;
  for (const std::string& ref : DeletedRefs(member)) {
    if (!first) out += ',';
    first = false;
    out += R"({"request":{"method":"DELETE","url":)";
    AppendJsonString(out, ref);
    out += "}}";
  }
  out += "]}\n";
  return out;
}

}  // namespace p2p::sandbox
