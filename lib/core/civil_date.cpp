#include "core/civil_date.h"

#include <algorithm>
#include <cstdio>

namespace p2p {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

// Howard Hinnant's days_from_civil: proleptic Gregorian, valid for any year.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                 // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};

// Howard Hinnant's civil_from_days.
Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);                    // [0, 146096]
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  // [0, 365]
  const unsigned mp = (5 * doy + 2) / 153;                       // [0, 11]
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;               // [1, 31]
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;                  // [1, 12]
  return {y + (m <= 2 ? 1 : 0), m, d};
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` ASCII digits at `pos`.
bool Digits(std::string_view s, size_t pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// "YYYY-MM-DD" at the start of `s` (any 4-digit year) -> days.
std::optional<int64_t> ParseDatePrefix(std::string_view s) {
  int64_t y = 0, m = 0, d = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (!Digits(s, 0, 4, y) || !Digits(s, 5, 2, m) || !Digits(s, 8, 2, d)) return std::nullopt;
  if (m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, static_cast<unsigned>(m))) {
    return std::nullopt;
  }
  return DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

std::optional<int64_t> ParseCivilDate(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  auto days = ParseDatePrefix(text);
  if (!days) return std::nullopt;
  const int64_t year = CivilFromDays(*days).year;
  if (year < 1900 || year > 2200) return std::nullopt;
  return days;
}

std::string FormatCivilDate(int64_t days) {
  const Civil c = CivilFromDays(days);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(c.year), c.month,
                c.day);
  return buf;
}

std::optional<int64_t> DaysFromYmd(int64_t year, int month, int day) {
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  if (static_cast<unsigned>(day) > DaysInMonth(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

int64_t DaysFromUnix(int64_t unix_seconds) { return FloorDiv(unix_seconds, kSecondsPerDay); }

int64_t RequestDeadlineUnix(int64_t coverage_start_days, int64_t opt_in_days) {
  const int64_t later = std::max(coverage_start_days, opt_in_days);
  return (later + 8) * kSecondsPerDay - 1;
}

std::optional<int64_t> ParseInstantMillis(std::string_view text) {
  // YYYY-MM-DDThh:mm:ss[.f{1,9}](Z|+hh:mm|-hh:mm)
  if (text.size() < 20 || text.size() > 64) return std::nullopt;
  auto days = ParseDatePrefix(text);
  if (!days) return std::nullopt;
  if (text[10] != 'T' && text[10] != 't') return std::nullopt;
  int64_t hh = 0, mm = 0, ss = 0;
  if (!Digits(text, 11, 2, hh) || text[13] != ':' || !Digits(text, 14, 2, mm) || text[16] != ':' ||
      !Digits(text, 17, 2, ss)) {
    return std::nullopt;
  }
  if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;  // 60: a leap second
  size_t pos = 19;
  int64_t millis = 0;
  if (text[pos] == '.') {
    ++pos;
    size_t n = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n < 3) millis = millis * 10 + (text[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0 || n > 9) return std::nullopt;
    for (size_t i = n; i < 3; ++i) millis *= 10;
  }
  if (pos >= text.size()) return std::nullopt;
  int64_t offset_seconds = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int64_t oh = 0, om = 0;
    if (!Digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_seconds = (oh * 3600 + om * 60) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const int64_t seconds = *days * kSecondsPerDay + hh * 3600 + mm * 60 + ss - offset_seconds;
  return seconds * 1000 + millis;
}

std::string FormatInstantMillis(int64_t unix_millis) {
  const int64_t secs = FloorDiv(unix_millis, 1000);
  const int64_t ms = unix_millis - secs * 1000;
  const int64_t days = FloorDiv(secs, kSecondsPerDay);
  const int64_t sod = secs - days * kSecondsPerDay;
  const Civil c = CivilFromDays(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(c.year), c.month, c.day, static_cast<long long>(sod / 3600),
                static_cast<long long>(sod / 60 % 60), static_cast<long long>(sod % 60),
                static_cast<long long>(ms));
  return buf;
}

}  // namespace p2p
