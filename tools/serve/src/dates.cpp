#include "mpilake/serve/dates.hpp"

#include <chrono>
#include <cstdio>

namespace mpilake::serve {

namespace {
namespace chr = std::chrono;

bool digits(std::string_view text) {
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

int number(std::string_view text) {
  int value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  return value;
}

chr::year_month_day civil(std::int64_t day) {
  return chr::year_month_day(chr::sys_days(chr::days(day)));
}
}  // namespace

std::optional<std::int64_t> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto y = text.substr(0, 4), m = text.substr(5, 2), d = text.substr(8, 2);
  if (!digits(y) || !digits(m) || !digits(d)) return std::nullopt;
  const chr::year_month_day date{chr::year(number(y)), chr::month(static_cast<unsigned>(number(m))),
                                 chr::day(static_cast<unsigned>(number(d)))};
  if (number(y) < 1 || !date.ok()) return std::nullopt;
  return chr::sys_days(date).time_since_epoch().count();
}

std::string date_text(std::int64_t day) {
  const auto date = civil(day);
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()));
  return text;
}

std::int64_t day_of(std::int64_t micros) {
  const std::int64_t day = micros / kMicrosPerDay;
  return (micros % kMicrosPerDay < 0) ? day - 1 : day;
}

std::string time_text(std::int64_t micros) {
  const std::int64_t day = day_of(micros);
  const std::int64_t seconds = (micros - day * kMicrosPerDay) / 1'000'000;
  char text[40];
  std::snprintf(text, sizeof text, "%sT%02lld:%02lld:%02lldZ", date_text(day).c_str(),
                static_cast<long long>(seconds / 3600), static_cast<long long>(seconds / 60 % 60),
                static_cast<long long>(seconds % 60));
  return text;
}

std::int64_t full_years(std::int64_t birth_day, std::int64_t day) {
  const auto birth = civil(birth_day), on = civil(day);
  std::int64_t years = static_cast<int>(on.year()) - static_cast<int>(birth.year());
  // (month, day) before the birthday's: not yet. 29 February vs 28 February sorts before, so it
  // counts from 1 March in other years.
  if (std::pair(static_cast<unsigned>(on.month()), static_cast<unsigned>(on.day())) <
      std::pair(static_cast<unsigned>(birth.month()), static_cast<unsigned>(birth.day())))
    --years;
  return years;
}

}  // namespace mpilake::serve
