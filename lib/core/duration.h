// Durations in config: "500ms", "10s", "5m", "24h", "1d" (and combinations are not accepted).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace p2p {

// nullopt for anything else (negative, empty, no unit, overflow).
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace p2p
