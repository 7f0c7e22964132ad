#pragma once
// The grammar of one Deloton log text (DELOTON.md "The landing zone", docs/deloton-decisions.md
// "Line shapes"): which of the four kinds it is, its timestamp, bike and numbers, or why it is
// quarantined. Hand-written and checked; errors are values. Also the calendar arithmetic the
// pipeline needs (UTC timestamps, days since the epoch, "YYYY-MM-DD").
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace mpilake::deloton {

enum class LineKind : std::uint8_t { marker, ride_start, ride, telemetry };

// Why a log text is quarantined, in the order the checks run: a line with a bad timestamp and a bad
// number is bad_timestamp, one with a bad number and a negative one is bad_number.
enum class LineProblem : std::uint8_t { none, unknown_shape, bad_timestamp, bad_number, negative_value };

// The quarantine reason string of `problem` ("unknown_shape", ...); "" for none.
std::string_view reason_name(LineProblem problem);

// The timestamp of the two text markers, which have none.
inline constexpr std::int64_t kNoTimestamp = std::numeric_limits<std::int64_t>::min();

// One parsed log text. The views point into the text given to parse_log_line. Fields that the
// line's kind does not have are 0 / empty.
struct LogLine {
  LineKind kind = LineKind::marker;
  std::int64_t timestamp_us = kNoTimestamp;  // µs since the epoch, UTC; kNoTimestamp for text markers
  std::string_view bike;                     // empty for text markers
  double duration = 0;                       // ride
  std::int64_t resistance = 0;               // ride
  std::int64_t hrt = 0;                      // telemetry (0: no pulse picked up)
  std::int64_t rpm = 0;                      // telemetry
  double power = 0;                          // telemetry
  std::string_view user_json;                // ride start: the rest of the text after "[SYSTEM] data = "
};

// Classifies and parses one log text (its final "\n" / "\r\n" already removed). On none, `line` is
// filled; otherwise its contents are unspecified. The user JSON of a ride start is not looked at
// here (see user_info.hpp); a value runs to the first occurrence of the literal text that follows
// it, the last one to the end of the text.
LineProblem parse_log_line(std::string_view text, LogLine& line);

// The last timestamp's validated "YYYY-MM-DD HH" and its seconds since the epoch: consecutive lines
// of a feed share them, so their date is checked and counted once.
struct TimestampCache {
  char prefix[13] = {};  // all zero: matches no timestamp (their fifth byte is '-')
  std::int64_t seconds = 0;
};
// parse_log_line with `cache` kept between the lines of one reader: the same results.
LineProblem parse_log_line(std::string_view text, LogLine& line, TimestampCache& cache);
// parse_timestamp with `cache`: the same results.
bool parse_timestamp(std::string_view text, std::int64_t& micros, TimestampCache& cache);

// `YYYY-MM-DD HH:MM:SS` with an optional `.` and 1–6 fraction digits, years 0001–9999, a date that
// exists (proleptic Gregorian), hours 00–23, minutes and seconds 00–59, nothing else; `micros` is the
// time as µs since 1970-01-01T00:00:00 UTC (negative before). False (micros unchanged) otherwise.
bool parse_timestamp(std::string_view text, std::int64_t& micros);

// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view text);
// JSON's integer grammar (a number without fraction or exponent): -?(0|[1-9][0-9]*)
bool is_json_integer(std::string_view text);
// A JSON number whose value is finite, correctly rounded; a value below the smallest subnormal is
// ±0 (as a strtod would read it). False for anything else, or a magnitude beyond the double range.
bool parse_json_number(std::string_view text, double& value);
// The log lines' integers: -?[0-9]+ literally (leading zeros allowed, -0 is 0), fitting int64.
bool parse_log_integer(std::string_view text, std::int64_t& value);

// floor(numerator / denominator) for denominator > 0 (C++ division truncates toward zero).
constexpr std::int64_t floor_div(std::int64_t numerator, std::int64_t denominator) {
  const std::int64_t quotient = numerator / denominator;
  return quotient * denominator > numerator ? quotient - 1 : quotient;
}

inline constexpr std::int64_t kMicrosPerDay = 86'400'000'000;
inline constexpr std::int64_t kMillisPerDay = 86'400'000;
// The UTC date, as days since 1970-01-01, of a time in µs / in ms since the epoch.
constexpr std::int64_t days_from_epoch_us(std::int64_t micros) {
  return floor_div(micros, kMicrosPerDay);
}
constexpr std::int64_t days_from_epoch_ms(std::int64_t millis) {
  return floor_div(millis, kMillisPerDay);
}

// The UTC date (days since the epoch) of an epoch-ms value when it lies in years 0001–9999, else
// INT64_MIN (NULL): an absurd date of birth is no date of birth. INT64_MIN in, INT64_MIN out.
std::int64_t date_days_in_range(std::int64_t millis);

struct CivilDate {
  std::int64_t year = 1970;
  unsigned month = 1;  // 1–12
  unsigned day = 1;    // 1–31
  bool operator==(const CivilDate&) const = default;
};

constexpr bool is_leap_year(std::int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}
// Days in `month` (1–12) of `year`.
unsigned days_in_month(std::int64_t year, unsigned month);
// Days since 1970-01-01 of a proleptic Gregorian date (any year; month 1–12, day 1–31 not checked).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);
// The proleptic Gregorian date `days` days after 1970-01-01 (negative: before).
CivilDate civil_from_days(std::int64_t days);
// "YYYY-MM-DD" of a day since the epoch. Years outside 0000–9999 (only from absurd epoch-ms values in
// a user JSON) are written with as many digits as they need and a leading '-' when negative.
std::string format_date(std::int64_t days_since_epoch);

}  // namespace mpilake::deloton
