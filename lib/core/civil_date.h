// Calendar dates (YYYY-MM-DD) as days since 1970-01-01, and the CMS-0057-F request deadline.
// Pure; no clock reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace p2p {

// Strict YYYY-MM-DD (real calendar date, year 1900..2200). nullopt otherwise.
std::optional<int64_t> ParseCivilDate(std::string_view text);
std::string FormatCivilDate(int64_t days);
// Days since the epoch for a proleptic Gregorian year/month/day (any year); nullopt when the
// month or day does not exist (e.g. 2025-02-29).
std::optional<int64_t> DaysFromYmd(int64_t year, int month, int day);
// Days since the epoch for a unix time in seconds (UTC).
int64_t DaysFromUnix(int64_t unix_seconds);

// CMS-0057-F: request within one week of the later of coverage start and opt-in.
// Returns the deadline as a unix time (seconds): end of day (UTC) of later + 7 days.
int64_t RequestDeadlineUnix(int64_t coverage_start_days, int64_t opt_in_days);

// RFC 3339 / FHIR instant "2026-01-05T16:08:38.956Z" -> unix milliseconds; nullopt if malformed.
std::optional<int64_t> ParseInstantMillis(std::string_view text);
std::string FormatInstantMillis(int64_t unix_millis);  // "...T...Z" with milliseconds

}  // namespace p2p
