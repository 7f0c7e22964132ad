#pragma once
// UTC calendar dates for the API: strict YYYY-MM-DD parsing, days since the epoch, full years of age.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mpilake::serve {

inline constexpr std::int64_t kMicrosPerDay = 86'400'000'000;

// Days since 1970-01-01 of a strict "YYYY-MM-DD" (years 0001-9999, a real calendar day); nullopt otherwise.
std::optional<std::int64_t> parse_date(std::string_view text);
// "YYYY-MM-DD" of a day number.
std::string date_text(std::int64_t day);
// The UTC day of a time in µs since the epoch (floor division: times before 1970 too).
std::int64_t day_of(std::int64_t micros);
// "YYYY-MM-DDTHH:MM:SSZ" of a time in µs.
std::string time_text(std::int64_t micros);
// Full years from birth day to `day` (a birthday counts from that day; 29 February from 1 March).
std::int64_t full_years(std::int64_t birth_day, std::int64_t day);

}  // namespace mpilake::serve
