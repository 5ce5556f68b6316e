// Durations in config: "500ms", "10s", "5m", "24h", "1d" (and combinations are not accepted).
// Pure.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace p2p {

// nullopt for anything else (negative, empty, no unit, overflow).
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The shortest text ParseDuration reads back as `d`: the largest unit that divides it exactly
// ("1d", "90s", "1500ms", "0s"). Negative durations print as "-" + the positive form.
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace p2p
