// Calendar arithmetic and a fixed-buffer JSON writer for the synthetic data's hot path.
//
// Dates are days since 1970-01-01 (proleptic Gregorian, H. Hinnant's algorithms); instants are
// seconds since the epoch, written "YYYY-MM-DDTHH:MM:SSZ". JsonBuffer writes into its own stack
// array (never allocates); callers guarantee what they write fits kCapacity (the synthetic
// resources are bounded by construction, well under 4 KiB) and only write JSON-safe text.
// Pure, header-only.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace p2p::sandbox::synth {

constexpr int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int year;
  unsigned month;
  unsigned day;
};

constexpr Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int y = static_cast<int>(yoe) + static_cast<int>(era) * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

inline void Write2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// Writes YYYY-MM-DD (10 chars) for years 1000..9999.
inline void WriteDate(char* p, int64_t days) {
  const Civil c = CivilFromDays(days);
  const auto y = static_cast<unsigned>(c.year);
  Write2(p, y / 100);
  Write2(p + 2, y % 100);
  p[4] = '-';
  Write2(p + 5, c.month);
  p[7] = '-';
  Write2(p + 8, c.day);
}

inline constexpr size_t kDateLen = 10;
inline constexpr size_t kInstantLen = 20;

// Writes YYYY-MM-DDTHH:MM:SSZ (20 chars).
inline void WriteInstant(char* p, int64_t unix_seconds) {
  const int64_t days = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
  const auto sod = static_cast<unsigned>(unix_seconds - days * 86400);
  WriteDate(p, days);
  p[10] = 'T';
  Write2(p + 11, sod / 3600);
  p[13] = ':';
  Write2(p + 14, sod / 60 % 60);
  p[16] = ':';
  Write2(p + 17, sod % 60);
  p[19] = 'Z';
}

class JsonBuffer {
 public:
  static constexpr size_t kCapacity = 16384;

  // A string literal, length known at compile time.
  template <size_t N>
  void Lit(const char (&s)[N]) {
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }
  // Raw text (caller guarantees it needs no escaping).
  void Raw(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void Raw(const char* s, size_t n) {
    std::memcpy(p_, s, n);
    p_ += n;
  }
  void Char(char c) { *p_++ = c; }
  void Uint(uint64_t v) { p_ = std::to_chars(p_, end(), v).ptr; }
  // Fixed-width zero-padded decimal.
  void Digits(uint64_t v, int width) {
    for (int i = width; i-- > 0;) {
      p_[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p_ += width;
  }
  // tenths as a decimal with one fractional digit: 1234 -> 123.4
  void Tenths(uint64_t tenths) {
    Uint(tenths / 10);
    *p_++ = '.';
    *p_++ = static_cast<char>('0' + tenths % 10);
  }
  void Date(int64_t days) {
    WriteDate(p_, days);
    p_ += kDateLen;
  }
  void Instant(int64_t unix_seconds) {
    WriteInstant(p_, unix_seconds);
    p_ += kInstantLen;
  }

  std::string_view view() const { return {buf_, static_cast<size_t>(p_ - buf_)}; }

 private:
  char* end() { return buf_ + kCapacity; }

  char buf_[kCapacity];
  char* p_ = buf_;
};

}  // namespace p2p::sandbox::synth
