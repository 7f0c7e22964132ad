#include "mpilake/deloton/log_line.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

namespace mpilake::deloton {

namespace {

constexpr std::string_view kMainMarker = "--------- beginning of main";
constexpr std::string_view kNewRideMarker = "--------- beginning of a new ride";
constexpr std::string_view kGettingUserData = "Getting user data from server..";
constexpr std::string_view kSystemPrefix = "[SYSTEM] data = ";
constexpr std::string_view kInfoPrefix = "[INFO]: ";
constexpr std::string_view kRidePrefix = "Ride - duration = ";
constexpr std::string_view kResistanceSeparator = "; resistance = ";
constexpr std::string_view kTelemetryPrefix = "Telemetry - hrt = ";
constexpr std::string_view kRpmSeparator = "; rpm = ";
constexpr std::string_view kPowerSeparator = "; power = ";

constexpr bool is_digit(char c) {
  return static_cast<unsigned char>(c - '0') < 10;
}

// The value of the `count` ASCII digits at `text`, or -1 when one is not a digit.
inline int digits_value(const char* text, int count) {
  int value = 0;
  bool all_digits = true;
  for (int i = 0; i < count; ++i) {
    const auto digit = static_cast<unsigned char>(text[i] - '0');
    all_digits &= digit < 10;
    value = value * 10 + digit;
  }
  return all_digits ? value : -1;
}

// The first `needle` in `text` at or after `from`, or npos. The texts searched here are short and
// the hits near, where a plain loop beats calls of memchr and memcmp.
inline std::size_t find_near(std::string_view text, std::string_view needle, std::size_t from = 0) {
  const char first = needle[0];
  for (std::size_t i = from; i + needle.size() <= text.size(); ++i)
    if (text[i] == first && std::memcmp(text.data() + i, needle.data(), needle.size()) == 0) return i;
  return std::string_view::npos;
}

// Splits `rest` at the first `separator`: `value` is the text before it, `rest` what follows it.
inline bool take_until(std::string_view& rest, std::string_view separator, std::string_view& value) {
  const std::size_t at = find_near(rest, separator);
  if (at == std::string_view::npos) return false;
  value = rest.substr(0, at);
  rest.remove_prefix(at + separator.size());
  return true;
}

// For a JSON number that std::from_chars found out of the double range: whether its magnitude is
// below one (an underflow to zero) rather than too large. Only the sign of its decimal exponent
// matters, so a huge written exponent is saturated.
bool magnitude_below_one(std::string_view number) {
  std::size_t i = number[0] == '-' ? 1 : 0;
  const std::size_t integer_begin = i;
  while (i < number.size() && is_digit(number[i])) ++i;
  const auto integer_digits = static_cast<std::int64_t>(i - integer_begin);
  std::int64_t leading_exponent = 0;  // decimal exponent of the first nonzero digit, before the e part
  if (number[integer_begin] != '0') {
    leading_exponent = integer_digits - 1;
  } else {
    std::int64_t zeros = 0;
    if (i < number.size() && number[i] == '.')
      for (++i; i < number.size() && number[i] == '0'; ++zeros) ++i;
    if (i == number.size() || !is_digit(number[i])) return true;  // all digits zero: the value is ±0
    leading_exponent = -(zeros + 1);
  }
  while (i < number.size() && number[i] != 'e' && number[i] != 'E') ++i;
  std::int64_t exponent = 0;
  if (i < number.size()) {
    ++i;
    const bool negative = number[i] == '-';
    if (number[i] == '-' || number[i] == '+') ++i;
    for (; i < number.size(); ++i) exponent = std::min<std::int64_t>(exponent * 10 + (number[i] - '0'), 1'000'000'000);
    if (negative) exponent = -exponent;
  }
  return leading_exponent + exponent < 0;
}

}  // namespace

std::string_view reason_name(LineProblem problem) {
  switch (problem) {
    case LineProblem::none: return "";
    case LineProblem::unknown_shape: return "unknown_shape";
    case LineProblem::bad_timestamp: return "bad_timestamp";
    case LineProblem::bad_number: return "bad_number";
    case LineProblem::negative_value: return "negative_value";
  }
  return "";
}

bool is_json_integer(std::string_view text) {
  std::size_t i = !text.empty() && text[0] == '-' ? 1 : 0;
  if (i == text.size()) return false;
  if (text[i] == '0') return i + 1 == text.size();
  for (; i < text.size(); ++i)
    if (!is_digit(text[i])) return false;
  return true;
}

bool is_json_number(std::string_view text) {
  const std::size_t size = text.size();
  std::size_t i = size > 0 && text[0] == '-' ? 1 : 0;
  if (i == size || !is_digit(text[i])) return false;
  if (text[i] == '0') {
    ++i;
  } else {
    while (i < size && is_digit(text[i])) ++i;
  }
  if (i < size && text[i] == '.') {
    const std::size_t first = ++i;
    while (i < size && is_digit(text[i])) ++i;
    if (i == first) return false;
  }
  if (i < size && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < size && (text[i] == '+' || text[i] == '-')) ++i;
    const std::size_t first = i;
    while (i < size && is_digit(text[i])) ++i;
    if (i == first) return false;
  }
  return i == size;
}

bool parse_json_number(std::string_view text, double& value) {
  // Fast path: -?(0|[1-9][0-9]*)(\.[0-9]+)? with at most 15 digits in all. The digits as an integer
  // (below 10^15 < 2^53) and 10^k (k <= 15) are exact doubles, so one division rounds exactly as
  // from_chars does (Clinger's fast path); the sign is applied after, so -0.0 stays -0.0.
  {
    const char* p = text.data();
    const char* const end = p + text.size();
    const bool negative = p < end && *p == '-';
    p += negative;
    const char* const integer_begin = p;
    std::uint64_t mantissa = 0;
    while (p < end && is_digit(*p)) mantissa = mantissa * 10 + static_cast<unsigned>(*p++ - '0');
    const std::ptrdiff_t integer_digits = p - integer_begin;
    std::ptrdiff_t fraction_digits = 0;
    bool fast = integer_digits > 0 && (integer_digits == 1 || *integer_begin != '0');
    if (fast && p < end) {
      if (*p == '.') {
        const char* const fraction_begin = ++p;
        while (p < end && is_digit(*p)) mantissa = mantissa * 10 + static_cast<unsigned>(*p++ - '0');
        fraction_digits = p - fraction_begin;
        fast = fraction_digits > 0 && p == end;
      } else {
        fast = false;
      }
    }
    if (fast && integer_digits + fraction_digits <= 15) {
      constexpr double kPowers[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
      const double magnitude = static_cast<double>(mantissa) / kPowers[fraction_digits];
      value = negative ? -magnitude : magnitude;
      return true;
    }
  }
  if (!is_json_number(text)) return false;
  double parsed = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (error == std::errc::result_out_of_range) {
    // libstdc++ reports an underflow to zero like an overflow; the first is a finite value.
    if (!magnitude_below_one(text)) return false;
    value = text[0] == '-' ? -0.0 : 0.0;
    return true;
  }
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(parsed)) return false;
  value = parsed;
  return true;
}

bool parse_log_integer(std::string_view text, std::int64_t& value) {
  // from_chars takes exactly -?[0-9]+ (no '+', no spaces) and reports values beyond int64.
  if (text.empty()) return false;
  // Fast path: up to 18 digits cannot overflow.
  const std::size_t sign = text[0] == '-' ? 1 : 0;
  if (text.size() > sign && text.size() - sign <= 18) {
    std::uint64_t magnitude = 0;  // wraps harmlessly when a byte is no digit (then discarded)
    bool digits = true;
    for (std::size_t i = sign; i < text.size(); ++i) {
      const auto digit = static_cast<unsigned char>(text[i] - '0');
      digits &= digit < 10;
      magnitude = magnitude * 10 + digit;
    }
    if (!digits) return false;
    value = sign ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
    return true;
  }
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

unsigned days_in_month(std::int64_t year, unsigned month) {
  constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

// The calendar is counted in eras of 400 years (146097 days, the Gregorian cycle) of years that start
// on 1 March, so that the leap day is the last day of its year: then the day of the year follows
// from the month by one linear formula (153 days per 5 months from March) and the day of the era
// from the year of the era by 365·y + y/4 − y/100. 1970-01-01 is day 719468 of this count.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  const std::int64_t march_year = month <= 2 ? year - 1 : year;
  const std::int64_t era = floor_div(march_year, 400);
  const std::int64_t year_of_era = march_year - era * 400;                      // [0, 399]
  const std::int64_t month_from_march = month > 2 ? month - 3 : month + 9;      // [0, 11]
  const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;  // [0, 365]
  const std::int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

CivilDate civil_from_days(std::int64_t days) {
  const std::int64_t shifted = days + 719468;
  const std::int64_t era = floor_div(shifted, 146097);
  const std::int64_t day_of_era = shifted - era * 146097;  // [0, 146096]
  // Undo 365·y + y/4 − y/100 (the last day of an era, 146096, is in year 399).
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;  // [0, 399]
  const std::int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;  // [0, 11]
  CivilDate date;
  date.day = static_cast<unsigned>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  date.month = static_cast<unsigned>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  date.year = year_of_era + era * 400 + (date.month <= 2 ? 1 : 0);
  return date;
}

std::string format_date(std::int64_t days_since_epoch) {
  const CivilDate date = civil_from_days(days_since_epoch);
  char buffer[40];
  char* out = buffer;
  std::int64_t year = date.year;
  if (year < 0) {
    *out++ = '-';
    year = -year;
  }
  if (year < 1000) {  // at least four digits
    for (std::int64_t scale = 1000; scale > year && scale > 1; scale /= 10) *out++ = '0';
  }
  out = std::to_chars(out, buffer + sizeof buffer, year).ptr;
  const auto two_digits = [&](unsigned value) {
    *out++ = static_cast<char>('0' + value / 10);
    *out++ = static_cast<char>('0' + value % 10);
  };
  *out++ = '-';
  two_digits(date.month);
  *out++ = '-';
  two_digits(date.day);
  return std::string(buffer, out);
}

bool parse_timestamp(std::string_view text, std::int64_t& micros) {
  TimestampCache cache;
  return parse_timestamp(text, micros, cache);
}

bool parse_timestamp(std::string_view text, std::int64_t& micros, TimestampCache& cache) {
  // "YYYY-MM-DD HH:MM:SS" is 19 characters; a '.' needs at least one digit after it, at most six.
  constexpr std::size_t kBase = 19;
  if (text.size() < kBase || text.size() == kBase + 1 || text.size() > kBase + 7) return false;
  const char* s = text.data();
  if (s[13] != ':' || s[16] != ':') return false;
  if (std::memcmp(s, cache.prefix, sizeof cache.prefix) != 0) {  // a new "YYYY-MM-DD HH"
    if (s[4] != '-' || s[7] != '-' || s[10] != ' ') return false;
    const int year = digits_value(s, 4), month = digits_value(s + 5, 2), day = digits_value(s + 8, 2);
    const int hour = digits_value(s + 11, 2);
    // -1 (not digits) fails every lower bound below.
    if (year < 1 || month < 1 || month > 12 || day < 1 ||
        static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)) || hour < 0 || hour > 23)
      return false;
    const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    std::memcpy(cache.prefix, s, sizeof cache.prefix);
    cache.seconds = days * 86'400 + hour * 3'600;
  }
  const int minute = digits_value(s + 14, 2), second = digits_value(s + 17, 2);
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  std::int64_t fraction = 0;
  if (text.size() > kBase) {
    if (s[kBase] != '.') return false;
    const int digits = static_cast<int>(text.size() - kBase - 1);
    const int value = digits_value(s + kBase + 1, digits);
    if (value < 0) return false;
    fraction = value;
    for (int i = digits; i < 6; ++i) fraction *= 10;  // ".5" is 500000 µs
  }
  const std::int64_t seconds = cache.seconds + minute * 60 + second;
  micros = seconds * 1'000'000 + fraction;
  return true;
}

LineProblem parse_log_line(std::string_view text, LogLine& line) {
  TimestampCache cache;
  return parse_log_line(text, line, cache);
}

LineProblem parse_log_line(std::string_view text, LogLine& line, TimestampCache& cache) {
  line = LogLine{};
  if (text == kMainMarker || text == kNewRideMarker) return LineProblem::none;

  // Shape: <ts> is the text before the second space, <bike> the non-empty text up to the first ": ".
  const std::size_t first_space = find_near(text, " ");
  if (first_space == std::string_view::npos) return LineProblem::unknown_shape;
  const std::size_t second_space = find_near(text, " ", first_space + 1);
  if (second_space == std::string_view::npos) return LineProblem::unknown_shape;
  const std::string_view timestamp = text.substr(0, second_space);
  const std::size_t bike_begin = second_space + 1;
  const std::size_t bike_end = find_near(text, ": ", bike_begin);
  if (bike_end == std::string_view::npos || bike_end == bike_begin) return LineProblem::unknown_shape;
  line.bike = text.substr(bike_begin, bike_end - bike_begin);
  std::string_view rest = text.substr(bike_end + 2);

  // The text after the bike decides the kind; the values are taken as text and checked later.
  std::string_view first_value, second_value, third_value;
  if (rest.starts_with(kInfoPrefix)) {
    rest.remove_prefix(kInfoPrefix.size());
    if (rest.starts_with(kRidePrefix)) {
      rest.remove_prefix(kRidePrefix.size());
      if (!take_until(rest, kResistanceSeparator, first_value)) return LineProblem::unknown_shape;
      second_value = rest;
      line.kind = LineKind::ride;
    } else if (rest.starts_with(kTelemetryPrefix)) {
      rest.remove_prefix(kTelemetryPrefix.size());
      if (!take_until(rest, kRpmSeparator, first_value) || !take_until(rest, kPowerSeparator, second_value))
        return LineProblem::unknown_shape;
      third_value = rest;
      line.kind = LineKind::telemetry;
    } else {
      return LineProblem::unknown_shape;
    }
  } else if (rest.starts_with(kSystemPrefix)) {
    line.kind = LineKind::ride_start;
    line.user_json = rest.substr(kSystemPrefix.size());
  } else if (rest == kGettingUserData) {
    line.kind = LineKind::marker;
  } else {
    return LineProblem::unknown_shape;
  }

  if (!parse_timestamp(timestamp, line.timestamp_us, cache)) return LineProblem::bad_timestamp;

  // Every number's grammar first, then the signs (-0 and -0.0 are not below zero).
  switch (line.kind) {
    case LineKind::ride:
      if (!parse_json_number(first_value, line.duration) || !parse_log_integer(second_value, line.resistance))
        return LineProblem::bad_number;
      if (line.duration < 0 || line.resistance < 0) return LineProblem::negative_value;
      break;
    case LineKind::telemetry:
      if (!parse_log_integer(first_value, line.hrt) || !parse_log_integer(second_value, line.rpm) ||
          !parse_json_number(third_value, line.power))
        return LineProblem::bad_number;
      if (line.hrt < 0 || line.rpm < 0 || line.power < 0) return LineProblem::negative_value;
      break;
    case LineKind::marker:
    case LineKind::ride_start: break;
  }
  return LineProblem::none;
}

std::int64_t date_days_in_range(std::int64_t millis) {
  constexpr std::int64_t kNull = std::numeric_limits<std::int64_t>::min();
  if (millis == kNull) return kNull;
  const std::int64_t days = days_from_epoch_ms(millis);
  static const std::int64_t first = days_from_civil(1, 1, 1), last = days_from_civil(9999, 12, 31);
  return days < first || days > last ? kNull : days;
}

}  // namespace mpilake::deloton
