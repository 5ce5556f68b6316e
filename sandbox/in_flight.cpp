#include "in_flight.h"

#include <algorithm>

#include "text_util.h"

namespace p2p::sandbox {

InFlightTable::Ticket InFlightTable::Begin(std::string_view tenant) {
  Counts* counts = nullptr;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    auto it = shared_->tenants.find(tenant);
    if (it == shared_->tenants.end()) {
      it = shared_->tenants.emplace(std::string(tenant), Counts{}).first;
    }
    counts = &it->second;
    counts->now += 1;
    counts->max = std::max(counts->max, counts->now);
  }
  // The deleter ends the flight; the pointer itself is only a non-null token.
  return Ticket(counts, [shared = shared_](void* p) {
    std::lock_guard<std::mutex> lock(shared->mu);
    static_cast<Counts*>(p)->now -= 1;
  });
}

void InFlightTable::ResetMax() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  for (auto& [tenant, counts] : shared_->tenants) counts.max = counts.now;
}

std::map<std::string, InFlightTable::Counts> InFlightTable::Snapshot() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return {shared_->tenants.begin(), shared_->tenants.end()};
}

std::string InFlightTable::Json() const {
  std::string out = "{";
  for (const auto& [tenant, counts] : Snapshot()) {
    if (out.size() > 1) out += ',';
    AppendJsonString(out, tenant);
    out += R"(:{"now":)" + std::to_string(counts.now) + R"(,"max":)" + std::to_string(counts.max) +
           "}";
  }
  return out + "}";
}

}  // namespace p2p::sandbox
