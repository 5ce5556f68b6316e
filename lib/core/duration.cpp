#include "core/duration.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

namespace p2p {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t millis;
};

// Longest suffix first so that "ms" is not read as "m" followed by junk.
constexpr std::array<Unit, 5> kUnits{{
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 3600 * 1000},
    {"d", 24 * 3600 * 1000},
}};

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits == text.size()) return std::nullopt;
  const std::string_view suffix = text.substr(digits);
  for (const Unit& unit : kUnits) {
    if (suffix != unit.suffix) continue;
    std::int64_t count = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + digits, count);
    if (ec != std::errc() || end != text.data() + digits) return std::nullopt;
    if (count > std::numeric_limits<std::int64_t>::max() / unit.millis) return std::nullopt;
    return std::chrono::milliseconds(count * unit.millis);
  }
  return std::nullopt;
}

std::string FormatDuration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == std::numeric_limits<std::int64_t>::min()) return std::to_string(ms) + "ms";
  if (ms < 0) return "-" + FormatDuration(std::chrono::milliseconds(-ms));
  if (ms == 0) return "0s";
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (ms % it->millis == 0) return std::to_string(ms / it->millis) + std::string(it->suffix);
  }
  return std::to_string(ms) + "ms";  // unreachable: every count divides by 1
}

}  // namespace p2p
