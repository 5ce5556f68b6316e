#include "core/retry_policy.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "core/civil_date.h"

namespace p2p {
namespace {

constexpr int64_t kEpochSecondsThreshold = 1'000'000'000LL;     // 2001-09-09 as seconds
constexpr int64_t kEpochMillisThreshold = 1'000'000'000'000LL;  // the same instant as millis

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A tiny cursor over an HTTP-date (RFC 9110 §5.6.7).
class DateCursor {
 public:
  explicit DateCursor(std::string_view s) : s_(s) {}

  bool AtEnd() const { return pos_ == s_.size(); }
  bool Char(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Spaces() {  // one or more spaces
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
    return pos_ > start;
  }
  // 1..max_digits digits (at least min_digits).
  bool Number(size_t min_digits, size_t max_digits, int64_t& out) {
    size_t n = 0;
    int64_t v = 0;
    while (pos_ < s_.size() && IsDigit(s_[pos_]) && n < max_digits) {
      v = v * 10 + (s_[pos_++] - '0');
      ++n;
    }
    out = v;
    return n >= min_digits && (pos_ == s_.size() || !IsDigit(s_[pos_]));
  }
  std::string_view Word() {
    const size_t start = pos_;
    while (pos_ < s_.size() &&
           ((s_[pos_] >= 'A' && s_[pos_] <= 'Z') || (s_[pos_] >= 'a' && s_[pos_] <= 'z'))) {
      ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }
  // hh:mm:ss
  bool Time(int64_t& seconds) {
    int64_t h = 0, m = 0, s = 0;
    if (!Number(2, 2, h) || !Char(':') || !Number(2, 2, m) || !Char(':') || !Number(2, 2, s)) {
      return false;
    }
    if (h > 23 || m > 59 || s > 60) return false;
    seconds = h * 3600 + m * 60 + s;
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

int MonthFromName(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == name) return static_cast<int>(i) + 1;
  }
  return 0;
}

bool IsDayName(std::string_view name, bool long_form) {
  static constexpr std::array<std::string_view, 7> kShort = {"Mon", "Tue", "Wed", "Thu",
                                                             "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 7> kLong = {
      "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
  const auto& names = long_form ? kLong : kShort;
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::optional<int64_t> ToUnix(int64_t year, int month, int64_t day, int64_t seconds_of_day) {
  auto days = DaysFromYmd(year, month, static_cast<int>(day));
  if (!days) return std::nullopt;
  return *days * 86400 + seconds_of_day;
}

bool IsGmt(std::string_view zone) { return zone == "GMT" || zone == "UTC"; }

// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" or RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" or
// asctime "Sun Nov  6 08:49:37 1994". Returns unix seconds.
std::optional<int64_t> ParseHttpDate(std::string_view text, int64_t now_unix) {
  DateCursor c(text);
  const std::string_view day_name = c.Word();
  int64_t day = 0, year = 0, tod = 0;
  if (c.Char(',')) {
    if (!c.Spaces()) return std::nullopt;
    if (!c.Number(2, 2, day)) return std::nullopt;
    if (c.Char('-')) {  // RFC 850
      if (!IsDayName(day_name, true)) return std::nullopt;
      const int month = MonthFromName(c.Word());
      if (month == 0 || !c.Char('-') || !c.Number(2, 2, year) || !c.Spaces() || !c.Time(tod) ||
          !c.Spaces() || !IsGmt(c.Word()) || !c.AtEnd()) {
        return std::nullopt;
      }
      // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
      const std::string today = FormatCivilDate(DaysFromUnix(now_unix));
      int64_t now_year = 0;
      for (size_t i = 0; i < 4 && i < today.size(); ++i)
        now_year = now_year * 10 + (today[i] - '0');
      int64_t full = now_year - now_year % 100 + year;
      if (full > now_year + 50) full -= 100;
      return ToUnix(full, month, day, tod);
    }
    if (!IsDayName(day_name, false) || !c.Spaces()) return std::nullopt;
    const int month = MonthFromName(c.Word());
    if (month == 0 || !c.Spaces() || !c.Number(4, 4, year) || !c.Spaces() || !c.Time(tod) ||
        !c.Spaces() || !IsGmt(c.Word()) || !c.AtEnd()) {
      return std::nullopt;
    }
    return ToUnix(year, month, day, tod);
  }
  // asctime
  if (!IsDayName(day_name, false) || !c.Spaces()) return std::nullopt;
  const int month = MonthFromName(c.Word());
  if (month == 0 || !c.Spaces() || !c.Number(1, 2, day) || !c.Spaces() || !c.Time(tod) ||
      !c.Spaces() || !c.Number(4, 4, year) || !c.AtEnd()) {
    return std::nullopt;
  }
  return ToUnix(year, month, day, tod);
}

Millis FromNow(int64_t instant_millis, int64_t now_unix) {
  const int64_t delta = instant_millis - now_unix * 1000;
  return Millis(std::max<int64_t>(0, delta));
}

}  // namespace

FailureClass ClassifyHttpStatus(int status) {
  if (status == 408 || status == 429 || status >= 500) return FailureClass::kRetryable;
  if (status == 401) return FailureClass::kUnauthorized;
  return FailureClass::kTerminal;
}

RetryPolicy::RetryPolicy(int max_attempts, Millis base_delay, Millis max_delay)
    : max_attempts_(std::max(1, max_attempts)),
      base_(std::max(Millis(0), base_delay)),
      max_(std::max(base_, max_delay)) {}

RetryDecision RetryPolicy::Next(int attempt, double jitter01,
                                std::optional<Millis> retry_after) const {
  if (attempt >= max_attempts_) return RetryDecision{false, Millis(0)};
  if (retry_after) return RetryDecision{true, std::clamp(*retry_after, base_, max_)};
  // cap = min(max, base * 2^(attempt-1)), doubling without overflow.
  int64_t cap = base_.count();
  for (int i = 1; i < attempt && cap < max_.count(); ++i) cap *= 2;
  cap = std::min(cap, max_.count());
  if (!(jitter01 >= 0.0)) jitter01 = 0.0;  // also catches NaN
  if (jitter01 >= 1.0) jitter01 = std::nextafter(1.0, 0.0);
  const auto delay = static_cast<int64_t>(jitter01 * static_cast<double>(cap));
  return RetryDecision{true, Millis(std::min(delay, cap))};
}

std::optional<Millis> ParseRetryAfter(std::string_view value, int64_t now_unix) {
  value = Trim(value);
  if (value.empty() || value.size() > 64) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), IsDigit)) {
    if (value.size() > 18) return std::nullopt;  // beyond any plausible instant
    int64_t n = 0;
    for (char ch : value) n = n * 10 + (ch - '0');
    if (n > kEpochMillisThreshold) return FromNow(n, now_unix);
    if (n > kEpochSecondsThreshold) return FromNow(n * 1000, now_unix);
    return Millis(n * 1000);
  }
  auto instant = ParseHttpDate(value, now_unix);
  if (!instant) return std::nullopt;
  return FromNow(*instant * 1000, now_unix);
}

}  // namespace p2p
