#include "mpilake/deloton/rider_rules.hpp"

#include <utility>
#include <vector>

#include "mpilake/deloton/log_line.hpp"

namespace mpilake::deloton {

Gender normalise_gender(std::string_view gender) {
  if (gender == "male") return Gender::male;
  if (gender == "female") return Gender::female;
  return Gender::other;
}

std::string_view gender_name(Gender gender) {
  switch (gender) {
    case Gender::male: return "male";
    case Gender::female: return "female";
    case Gender::other: return "other";
  }
  return "other";
}

bool replace_nul(std::string& text) {
  std::size_t at = text.find('\0');
  if (at == std::string::npos) return false;
  std::string out(text, 0, at);
  for (; at < text.size(); ++at) {
    if (text[at] == '\0') {
      out.append(kNulReplacement);
    } else {
      out.push_back(text[at]);
    }
  }
  text = std::move(out);
  return true;
}

std::int64_t age_on(std::int64_t date_of_birth_ms, std::int64_t ride_start_us) {
  const CivilDate birth = civil_from_days(days_from_epoch_ms(date_of_birth_ms));
  const CivilDate ride = civil_from_days(days_from_epoch_us(ride_start_us));
  // Comparing (month, day) also places a 29 February birthday: in a year without that day,
  // 28 February is before it and 1 March after it.
  const bool birthday_reached = ride.month != birth.month ? ride.month > birth.month : ride.day >= birth.day;
  return ride.year - birth.year - (birthday_reached ? 0 : 1);
}

HeartRateLimits heart_rate_limits(std::int64_t age, Gender gender) {
  HeartRateLimits limits;
  const int band = age < 40 ? 0 : age < 65 ? 1 : 2;  // under 40 / 40–64 / 65 and over
  if (gender == Gender::male) {
    limits.upper = age < 40 ? 220 - age : floor_div(2085 - 7 * age, 10);  // 208 − 0.7·age, half up
    limits.lower = std::array<std::int64_t, 3>{40, 47, 52}[band];
  } else {
    limits.upper = floor_div(20650 - 88 * age, 100);  // 206 − 0.88·age, half up
    limits.lower = std::array<std::int64_t, 3>{45, 52, 57}[band];
  }
  return limits;
}

int age_band(std::int64_t age) {
  if (age < 18) return 0;
  if (age < 25) return 1;
  if (age < 35) return 2;
  if (age < 45) return 3;
  if (age < 55) return 4;
  if (age < 65) return 5;
  return 6;
}

namespace {

constexpr bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_ascii_space(text[i])) ++i;
    const std::size_t begin = i;
    while (i < text.size() && !is_ascii_space(text[i])) ++i;
    if (i > begin) words.push_back(text.substr(begin, i - begin));
  }
  return words;
}

// The title a word spells ("Dr." and "Dr" are Dr), or "" when it is none.
std::string_view title_of(std::string_view word) {
  if (word.ends_with('.')) word.remove_suffix(1);
  for (const std::string_view title : {"Mr", "Mrs", "Miss", "Ms", "Dr", "Mx", "Prof"})
    if (word == title) return title;
  return {};
}

// Address parts lose the ASCII whitespace around them (the same set as the name's word split).
std::string_view trim_ascii_space(std::string_view text) {
  while (!text.empty() && is_ascii_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ascii_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

NameParts split_name(std::string_view name) {
  const std::vector<std::string_view> words = split_words(name);
  NameParts parts;
  std::size_t next = 0;
  if (words.size() >= 2) {
    parts.title = title_of(words[0]);
    if (!parts.title.empty()) next = 1;
  }
  if (next < words.size()) parts.first_name = words[next++];
  for (; next < words.size(); ++next) {
    if (!parts.last_name.empty()) parts.last_name += ' ';
    parts.last_name += words[next];
  }
  return parts;
}

AddressParts split_address(std::string_view address) {
  std::vector<std::string_view> pieces;
  for (std::size_t begin = 0;;) {
    const std::size_t comma = address.find(',', begin);
    pieces.push_back(trim_ascii_space(address.substr(begin, comma == std::string_view::npos ? comma : comma - begin)));
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  AddressParts parts;
  parts.postcode = pieces.back();
  if (pieces.size() >= 2) parts.town = pieces[pieces.size() - 2];
  for (std::size_t i = 0; i + 2 < pieces.size(); ++i) {
    if (i > 0) parts.street += ", ";
    parts.street += pieces[i];
  }
  return parts;
}

}  // namespace mpilake::deloton
