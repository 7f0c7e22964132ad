#pragma once
// The rider rules of DELOTON.md as pure functions: gender, age, heart-rate limits, the daily age
// bands, and the split of a user's name and address into the riders zone's columns.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mpilake::deloton {

enum class Gender : std::uint8_t { male, female, other };

// `male` and `female` exactly as written (lower case); anything else, NULL included (pass ""), is other.
Gender normalise_gender(std::string_view gender);
std::string_view gender_name(Gender gender);  // "male", "female", "other"

// U+FFFD, written for each NUL character of a user-JSON string or a bike name: the zones'
// fixed-length NUL-padded strings would cut the value at a NUL (docs/deloton-decisions.md "NUL").
inline constexpr std::string_view kNulReplacement = "\xEF\xBF\xBD";
// Replaces every NUL in `text` by kNulReplacement; true when there was one.
bool replace_nul(std::string& text);

// Full years between the UTC date of `date_of_birth_ms` (epoch ms) and that of `ride_start_us`
// (epoch µs): a birthday counts from that day on, 29 February from 1 March in other years. Negative
// when the birth date is after the ride.
std::int64_t age_on(std::int64_t date_of_birth_ms, std::int64_t ride_start_us);

// A heart rate is abnormal outside [lower, upper].
struct HeartRateLimits {
  std::int64_t lower = 0;
  std::int64_t upper = 0;
  bool operator==(const HeartRateLimits&) const = default;
};
// DELOTON.md's integer formulas (floor division, so also right for ages past 297). Exact for every
// age age_on can return (|age| < 10^9); beyond |age| ~ 10^17 the products would overflow.
HeartRateLimits heart_rate_limits(std::int64_t age, Gender gender);

// The daily zone's age bands, as indices 0..6 into kAgeBandNames (the column suffixes); a negative
// age is under_18.
inline constexpr std::array<std::string_view, 7> kAgeBandNames = {"under_18", "18_24", "25_34",  "35_44",
                                                                  "45_54",    "55_64", "65_plus"};
int age_band(std::int64_t age);

struct NameParts {
  std::string title;  // without its dot; "" when there is none
  std::string first_name;
  std::string last_name;  // the remaining words joined by one space
  bool operator==(const NameParts&) const = default;
};
// Splits on ASCII whitespace (space, \t, \n, \v, \f, \r). A first word Mr, Mrs, Miss, Ms, Dr, Mx or
// Prof (exact case, one optional final '.') is the title when another word follows it.
NameParts split_name(std::string_view name);

struct AddressParts {
  std::string street;
  std::string town;
  std::string postcode;
  bool operator==(const AddressParts&) const = default;
};
// Splits on ',' and trims each part of ASCII whitespace, right-aligned: postcode = the last part, town
// = the one before it, street = the parts before those joined by ", "; fewer parts leave the left
// fields empty.
AddressParts split_address(std::string_view address);

}  // namespace mpilake::deloton
