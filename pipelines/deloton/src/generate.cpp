#include "mpilake/deloton/generate.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "mpilake/gen/blocks.hpp"
#include "mpilake/gen/format.hpp"
#include "mpilake/gen/output_buffer.hpp"
#include "mpilake/gen/random.hpp"
#include "mpilake/io/file_sink.hpp"

namespace mpilake::deloton {
namespace {

using gen::counter_draw;
using gen::Rng;
using gen::unit_interval;

constexpr std::int64_t kSecondUs = 1'000'000;
constexpr std::int64_t kHourUs = 3'600 * kSecondUs;
constexpr std::int64_t kDayUs = 24 * kHourUs;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kMaxDays = 100'000;
constexpr std::int64_t kFirstUserId = 100;
constexpr double kDetailChangePerDay = 0.05;
constexpr std::int64_t kMinRideSeconds = 300;
constexpr std::int64_t kMaxRideSeconds = 2000;
// The bike logs a line every half second, plus a drift of some microseconds per line (about 15 in
// the real feed), plus a jitter below kLineJitterUs that keeps every line's time computable alone.
constexpr std::int64_t kLineStepUs = 500'000;
constexpr std::int64_t kLineJitterUs = 6;
constexpr std::int64_t kMaxResistance = 200;
constexpr std::int64_t kMaxRpm = 200;
constexpr int kFileIndexWidth = 10;  // Kafka Connect pads offsets to 10 digits

// Seeded generators, one per purpose (gen::Rng's stream).
enum class Purpose : std::uint64_t { schedule = 1, ride = 2, rider = 3, rider_change = 4, household = 5 };

// Counter draws within a ride: counter_draw(ride key ^ salt, line or second).
enum Salt : std::uint64_t {
  kJitterSalt = 0x243f6a8885a308d3ULL,
  kRpmNoiseSalt = 0x13198a2e03707344ULL,
  kRpmWanderSalt = 0xa4093822299f31d0ULL,
  kHrNoiseSalt = 0x082efa98ec4e6c89ULL,
  kHrWanderSalt = 0x452821e638d01377ULL,
  kDropoutSalt = 0xbe5466cf34e90c6cULL,
  kEpisodeSalt = 0xc0ac29b7c97c50ddULL,
  kDamageSalt = 0x3f84d5b5b5470917ULL,
  kDuplicateSalt = 0x9216d5d98979fb1bULL,
};

double unit_draw(std::uint64_t key, Salt salt, std::int64_t counter) {
  return unit_interval(counter_draw(key ^ salt, static_cast<std::uint64_t>(counter)));
}

std::int64_t floor_div(std::int64_t value, std::int64_t divisor) {
  const std::int64_t quotient = value / divisor;
  return quotient * divisor > value ? quotient - 1 : quotient;
}

int round_non_negative(double value) {
  return value <= 0 ? 0 : static_cast<int>(value + 0.5);
}

// ---------------------------------------------------------------------------
// Dates (proleptic Gregorian, UTC; days since 1970-01-01)
// ---------------------------------------------------------------------------

struct CivilDate {
  std::int64_t year = 1970;
  int month = 1, day = 1;
};

std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  year -= month <= 2;
  const std::int64_t era = floor_div(year, 400);
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const auto day_of_year = static_cast<unsigned>((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1);
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = floor_div(days, 146097);
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;
  CivilDate date;
  date.day = static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  date.month = static_cast<int>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  date.year = static_cast<std::int64_t>(year_of_era) + era * 400 + (date.month <= 2);
  return date;
}

bool is_leap_year(std::int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(std::int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

// "YYYY-MM-DD" -> days since the epoch; nullopt unless a valid date.
std::optional<std::int64_t> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int year = 0, month = 0, day = 0;
  const auto number = [&](std::size_t at, std::size_t length, int& value) {
    const auto result = std::from_chars(text.data() + at, text.data() + at + length, value);
    return result.ec == std::errc() && result.ptr == text.data() + at + length;
  };
  if (!number(0, 4, year) || !number(5, 2, month) || !number(8, 2, day)) return std::nullopt;
  if (year < 1900 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  return days_from_civil(year, month, day);
}

// Full years from birth to `on` (a 29 February birthday counts from 1 March in other years).
int age_in_years(std::int64_t birth_day, std::int64_t on_day) {
  const CivilDate birth = civil_from_days(birth_day), on = civil_from_days(on_day);
  auto age = static_cast<int>(on.year - birth.year);
  if (on.month < birth.month || (on.month == birth.month && on.day < birth.day)) --age;
  return age;
}

// ---------------------------------------------------------------------------
// Heart-rate limits (DELOTON.md), used to keep normal readings inside them and episodes outside
// ---------------------------------------------------------------------------

enum class Sex { male, female, other };

Sex sex_of(std::string_view gender) {
  if (gender == "male") return Sex::male;
  if (gender == "female") return Sex::female;
  return Sex::other;
}

int upper_limit(Sex sex, int age) {
  if (sex == Sex::male) return age < 40 ? 220 - age : static_cast<int>(floor_div(2085 - 7 * age, 10));
  return static_cast<int>(floor_div(20650 - 88 * age, 100));
}

int lower_limit(Sex sex, int age) {
  const int band = age < 40 ? 0 : (age < 65 ? 1 : 2);
  static constexpr int kMale[] = {40, 47, 52}, kOther[] = {45, 52, 57};
  return sex == Sex::male ? kMale[band] : kOther[band];
}

// ---------------------------------------------------------------------------
// Vocabulary (en_GB-looking, like the real users)
// ---------------------------------------------------------------------------

template <class T, std::size_t N>
constexpr std::int64_t count_of(const T (&)[N]) {
  return static_cast<std::int64_t>(N);
}

template <class T, std::size_t N>
std::string_view pick(Rng& rng, const T (&values)[N]) {
  return values[rng.below(count_of(values))];
}

constexpr std::string_view kMaleFirstNames[] = {
    "Steven", "Stuart", "Wayne",   "Brian",  "Julian", "Elliot", "Aaron",  "Colin",  "Gavin",  "Owen",
    "Craig",  "Dean",   "Gareth",  "Ian",    "Keith",  "Lee",    "Mark",   "Neil",   "Paul",   "Ryan",
    "Scott",  "Shaun",  "Terry",   "Tony",   "Adam",   "Ben",    "Callum", "Connor", "Daniel", "Harry",
    "Jack",   "Jamie",  "Joe",     "Kieran", "Liam",   "Luke",   "Nathan", "Oliver", "Peter",  "Robert",
    "Simon",  "Thomas", "William", "George", "Graham", "Kevin",  "Martin", "Philip", "Ross",   "Mohammed"};
constexpr std::string_view kFemaleFirstNames[] = {
    "Charlene", "Jodie",   "Lynn",   "Angela",  "Bethan", "Carolyn", "Francesca", "Linda",    "Tracey",  "Valerie",
    "Abigail",  "Alison",  "Amanda", "Amy",     "Carol",  "Chloe",   "Claire",    "Danielle", "Deborah", "Eleanor",
    "Emma",     "Gemma",   "Hannah", "Helen",   "Jade",   "Jane",    "Jennifer",  "Joanne",   "Julie",   "Karen",
    "Katie",    "Kelly",   "Laura",  "Leanne",  "Lisa",   "Louise",  "Lucy",      "Megan",    "Molly",   "Natalie",
    "Rachel",   "Rebecca", "Sarah",  "Shannon", "Sophie", "Stacey",  "Susan",     "Victoria", "Wendy",   "Zoe"};
constexpr std::string_view kLastNames[] = {
    "Pearce",  "Brown",   "Austin",    "Fitzgerald", "Norris",   "King",     "Dale",     "Webster", "Phillips",
    "Bell",    "Simpson", "Wilkinson", "Smith",      "Jones",    "Taylor",   "Williams", "Davies",  "Evans",
    "Thomas",  "Johnson", "Roberts",   "Walker",     "Wright",   "Robinson", "Thompson", "White",   "Hughes",
    "Edwards", "Green",   "Hall",      "Wood",       "Harris",   "Lewis",    "Martin",   "Jackson", "Clarke",
    "Turner",  "Hill",    "Scott",     "Cooper",     "Morris",   "Ward",     "Moore",    "Watson",  "Harrison",
    "Morgan",  "Baker",   "Young",     "Allen",      "Mitchell", "Kelly",    "Cook",     "Carter",  "Richardson",
    "Bailey",  "Collins", "Bennett",   "Shaw",       "Murphy",   "Cox",      "Marshall", "Owen",    "Parker",
    "Walsh",   "Chapman", "Holmes",    "Mason",      "Gray",     "Barnes",   "Khan",     "Ali",     "Patel",
    "Begum",   "Hussain", "Singh",     "O'Brien",    "Murray",   "Kennedy",  "Ellis",    "Stevens", "Price"};
constexpr std::string_view kStreetKinds[] = {
    "locks",  "spring", "wall",  "lane",   "haven",    "turnpike", "alley",   "shores", "parkway", "ports",
    "road",   "street", "way",   "course", "crescent", "gardens",  "mews",    "drive",  "court",   "close",
    "avenue", "square", "grove", "hill",   "view",     "rapids",   "meadows", "fields", "ford",    "bridge"};
constexpr std::string_view kTownPrefixes[] = {"East ", "West ", "North ", "South ", "New ", "Port ", "Lake "};
constexpr std::string_view kTownSuffixes[] = {"shire",   "mouth", "side",    "land",  "port",  "ton",  "bury", "ville",
                                              "chester", "ham",   "borough", "burgh", "haven", "stad", "view", "ford"};
constexpr std::string_view kEmailDomains[] = {"gmail.com", "hotmail.com", "yahoo.com", "outlook.com"};
constexpr std::string_view kSources[] = {"direct",  "direct",  "google ads", "google ads",
                                         "offline", "offline", "facebook",   "instagram"};

// Bike names: a made-up surname from two syllables and a version digit. bike_code is a bijection
// of [0, kBikeCodes), so names are unique; bike 0 is the real feed's "mendoza v9".
constexpr std::string_view kBikeHeads[] = {"men", "gar", "ro", "san", "tor", "val", "mar", "cas", "del", "fer", "her",
                                           "lo",  "mor", "pa", "qui", "re",  "so",  "ta",  "ve",  "zu",  "al",  "bel",
                                           "cor", "dor", "es", "fal", "gon", "ib",  "jar", "lar", "nav", "ol"};
constexpr std::string_view kBikeTails[] = {"doza", "cia",    "driguez", "chez",  "res",   "dez",   "tinez", "tillo",
                                           "gado", "nandez", "rera",    "pez",   "rales", "dilla", "roga",  "yes",
                                           "lano", "rino",   "nez",     "ville", "lina",  "ssa",   "rell",  "vara",
                                           "mos",  "nte",    "bal",     "zano",  "rado",  "quez",  "lez",   "mero"};
constexpr std::int64_t kBikeCodes = count_of(kBikeHeads) * count_of(kBikeTails) * 10;
constexpr std::int64_t kBikeCodeStride = 7919;  // prime, coprime with kBikeCodes

// ---------------------------------------------------------------------------
// Power (fitted to the real samples)
// ---------------------------------------------------------------------------

// ln(power) = sum c[i][j] * s^i * L^j with s = resistance / 100 and L = ln(rpm / 50): a least-squares
// fit to the 143 distinct (resistance, rpm) pairs of the real landing samples and derived CSVs
// (resistance 30-170, rpm 8-167); every one within 0.33 %. Below rpm 8 it falls as rpm^1.7.
constexpr double kPowerFit[4][5] = {
    {1.9227724958181571, 1.421076224397901, -0.07653616932889185, 0.025613654568833365, 0.013544203872945637},
    {2.430532687121359, 0.6011287180634368, -0.06784191193117362, -0.05299063117667141, 0.0},
    {-0.2324743882108412, -0.4373209360190335, 0.016662711298097654, 0.0, 0.0},
    {-0.05034609617645058, 0.10017390507022361, 0.0, 0.0, 0.0},
};

double fitted_power(std::int64_t resistance, std::int64_t rpm) {
  const double s = static_cast<double>(std::clamp<std::int64_t>(resistance, 10, kMaxResistance)) / 100.0;
  const double l = std::log(static_cast<double>(std::max<std::int64_t>(rpm, 8)) / 50.0);
  double log_power = 0, s_power = 1;
  for (const auto& row : kPowerFit) {
    double term = s_power;
    for (const double coefficient : row) {
      log_power += coefficient * term;
      term *= l;
    }
    s_power *= s;
  }
  double power = std::exp(log_power);
  if (rpm < 8) power *= std::pow(static_cast<double>(rpm) / 8.0, 1.7);
  return power;
}

constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr double kInversePowersOfTen[] = {1e0,  1e-1, 1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                          1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15};

// Rounds to 10 significant digits the way the real feed's numbers look: the digits times an
// inexact power of ten, printed as the shortest text that reads back (Python's repr), so about
// one value in five carries an artefact like 9.737739856000001.
std::string feed_number_text(double value) {
  if (!(value > 0)) return "0.0";
  int integer_digits = 1;
  while (integer_digits < 15 && value >= kPowersOfTen[integer_digits]) ++integer_digits;
  // Below 1: count the zeros after the point (only then, so the index stays in the table).
  while (integer_digits <= 1 && integer_digits > -4 && value < kInversePowersOfTen[1 - integer_digits])
    --integer_digits;
  int decimals = std::clamp(10 - integer_digits, 0, 15);
  auto digits = static_cast<std::int64_t>(std::llround(value * kPowersOfTen[decimals]));
  if (digits >= 10'000'000'000LL && decimals > 0) {
    --decimals;
    digits = static_cast<std::int64_t>(std::llround(value * kPowersOfTen[decimals]));
  }
  const double written = static_cast<double>(digits) * kInversePowersOfTen[decimals];
  char text[64];
  const auto result = std::to_chars(text, text + sizeof text, written, std::chars_format::fixed);
  std::string out(text, result.ptr);
  if (out.find('.') == std::string::npos) out += ".0";
  return out;
}

// power_text for every (resistance, rpm) the generator writes, formatted once.
class PowerTable {
 public:
  PowerTable() : entries_(static_cast<std::size_t>((kMaxResistance + 1) * (kMaxRpm + 1))) {
    for (std::int64_t resistance = 0; resistance <= kMaxResistance; ++resistance) {
      for (std::int64_t rpm = 0; rpm <= kMaxRpm; ++rpm) {
        const std::string text = power_text(resistance, rpm);
        Entry& entry = entries_[index(resistance, rpm)];
        std::memcpy(entry.text, text.data(), text.size());
        entry.length = static_cast<std::uint8_t>(text.size());
      }
    }
  }
  char* write(char* out, int resistance, int rpm) const {
    const Entry& entry = entries_[index(resistance, rpm)];
    std::memcpy(out, entry.text, sizeof entry.text);  // fixed size: one fast copy
    return out + entry.length;
  }

 private:
  struct Entry {
    char text[31] = {};
    std::uint8_t length = 0;
  };
  static std::size_t index(std::int64_t resistance, std::int64_t rpm) {
    return static_cast<std::size_t>(resistance * (kMaxRpm + 1) + rpm);
  }
  std::vector<Entry> entries_;
};

const PowerTable& power_table() {
  static const PowerTable table;
  return table;
}

// ---------------------------------------------------------------------------
// Riders
// ---------------------------------------------------------------------------

struct Rider {
  std::int64_t user_id = 0;
  std::string name, gender, address, email;
  bool gender_missing = false;                  // the user JSON has no gender key (as some real feeds' users)
  std::int64_t birth_day = 0, account_day = 0;  // days since the epoch
  int height_cm = 0, weight_kg = 0;
  std::string_view source;
  bool heart_condition = false;  // has abnormal heart-rate episodes
};

std::string lower_case(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\'') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

// A surname or first name for a street or town (no apostrophes there: O'Brien is a person's name).
std::string_view place_name(Rng& rng) {
  const double draw = rng.uniform();
  const std::string_view name = draw < 0.25  ? pick(rng, kMaleFirstNames)
                                : draw < 0.5 ? pick(rng, kFemaleFirstNames)
                                             : pick(rng, kLastNames);
  return name.find('\'') == std::string_view::npos ? name : "Brien";
}

// "Wilkinsonshire", "East Valeriemouth", "New Bethan", "Martinport".
std::string draw_town(Rng& rng) {
  std::string town;
  if (rng.chance(0.35)) town.append(pick(rng, kTownPrefixes));
  town.append(place_name(rng));
  if (town.find(' ') == std::string::npos || rng.chance(0.3)) town.append(pick(rng, kTownSuffixes));
  return town;
}

std::string draw_postcode(Rng& rng) {
  const auto letter = [&] { return static_cast<char>('A' + rng.below(26)); };
  const auto digit = [&] { return static_cast<char>('0' + rng.below(10)); };
  // Outward code like E68, B9S, IG1, SA4N, WR4V; inward code like 8SH.
  std::string code;
  code.push_back(letter());
  const bool two_letters = rng.chance(0.6);
  if (two_letters) code.push_back(letter());
  code.push_back(digit());
  const double form = rng.uniform();
  if (form < 0.35) {
    code.push_back(letter());
  } else if (form < 0.55 && !two_letters) {
    code.push_back(digit());
  }
  code.push_back(' ');
  code.push_back(digit());
  code.push_back(letter());
  code.push_back(letter());
  return code;
}

// "0 Simpson locks,Wilkinsonshire,E68 8SH" or "Flat 98y,Carolyn haven,East Valeriemouth,S5T 0TT".
std::string draw_address(Rng& rng) {
  std::string address;
  const bool four_parts = rng.chance(0.35);
  if (four_parts) {
    address.append(rng.chance(0.5) ? "Flat " : "Studio ");
    gen::append_int(address, rng.between(1, 99));
    if (rng.chance(0.5)) address.push_back(static_cast<char>('a' + rng.below(26)));
    address.push_back(',');
  } else {
    if (rng.chance(0.15)) {
      address.push_back('0');  // "08 Linda spring"
      address.push_back(static_cast<char>('0' + rng.below(10)));
    } else {
      gen::append_int(address, rng.below(100));
    }
    address.push_back(' ');
  }
  address.append(place_name(rng)).append(" ").append(pick(rng, kStreetKinds));
  address.append(",").append(draw_town(rng)).append(",").append(draw_postcode(rng));
  return address;
}

// Email patterns of the real feed: steven.p@, charlene.b72@, wayne_fitzgerald@,
// brian.norris-king5@, and for titled names mr.s@, mr_j@, ms.jodie28@.
std::string draw_email(Rng& rng, std::string_view title, std::string_view first, std::string_view last) {
  const std::string first_lower = lower_case(first), last_lower = lower_case(last);
  std::string title_lower = lower_case(title);
  if (!title_lower.empty() && title_lower.back() == '.') title_lower.pop_back();
  std::string local;
  const bool titled_form = !title.empty() && rng.chance(0.7);
  const std::int64_t form = rng.below(4);
  if (titled_form) {
    local = title_lower + (rng.chance(0.5) ? "." : "_");
    if (form < 2) {
      local.push_back(first_lower[0]);
    } else {
      local.append(first_lower);
      gen::append_int(local, rng.between(1, 99));
    }
  } else if (form == 0) {
    local = first_lower + "." + last_lower[0];
  } else if (form == 1) {
    local = first_lower + "." + last_lower[0];
    gen::append_int(local, rng.between(1, 99));
  } else if (form == 2) {
    local = first_lower + "_" + last_lower;
  } else {
    local = first_lower + "." + last_lower;
    gen::append_int(local, rng.between(1, 9));
  }
  return local + "@" + std::string(pick(rng, kEmailDomains));
}

std::int64_t draw_birth_day(Rng& rng) {
  if (rng.chance(0.01)) return days_from_civil(1944 + 4 * rng.below(16), 2, 29);  // leap-day birthdays
  const std::int64_t year = 1942 + rng.below(64);
  const int month = static_cast<int>(1 + rng.below(12));
  const int day = static_cast<int>(1 + rng.below(days_in_month(year, month)));
  return days_from_civil(year, month, day);
}

// A rider's details as of `on_day`: riders change some of them once (a move, a new email,
// weight), so the same user_id shows different details in different rides.
Rider draw_rider(std::uint64_t seed, std::int64_t start_day, std::int64_t rider, std::int64_t on_day) {
  Rng rng(seed, Purpose::rider, static_cast<std::uint64_t>(rider));
  Rider out;
  out.user_id = kFirstUserId + rider;
  const double gender_draw = rng.uniform();
  // Mostly male / female; 3 % the other class in the ways users write it: other words, another case
  // ("Male" is other: only lower-case male / female count), empty, no key at all.
  out.gender = gender_draw < 0.485   ? "male"
               : gender_draw < 0.97  ? "female"
               : gender_draw < 0.985 ? "non-binary"
               : gender_draw < 0.99  ? "other"
               : gender_draw < 0.994 ? "Male"
                                     : "";  // from 0.997 on without the key
  out.gender_missing = gender_draw >= 0.997;
  const Sex sex = sex_of(out.gender);
  const std::string_view first =
      sex == Sex::male
          ? pick(rng, kMaleFirstNames)
          : (sex == Sex::female || rng.chance(0.5) ? pick(rng, kFemaleFirstNames) : pick(rng, kMaleFirstNames));
  std::string last(pick(rng, kLastNames));
  if (rng.chance(0.07)) last.append("-").append(pick(rng, kLastNames));  // Norris-King
  std::string title;
  const double title_draw = rng.uniform();
  if (title_draw < 0.03) {
    title = "Dr";
  } else if (title_draw < 0.18) {
    if (sex == Sex::male) title = "Mr";
    if (sex == Sex::female) title = title_draw < 0.09 ? "Mrs" : (title_draw < 0.13 ? "Miss" : "Ms");
    if (sex == Sex::other) title = "Mx";
  }
  if (!title.empty() && rng.chance(0.1)) title.push_back('.');
  out.name = (title.empty() ? "" : title + " ") + std::string(first) + " " + last;
  out.email = draw_email(rng, title, first, last);
  out.address = draw_address(rng);
  out.birth_day = draw_birth_day(rng);
  out.account_day = start_day - 20 - rng.below(700);
  out.height_cm = static_cast<int>(sex == Sex::male ? rng.between(160, 195) : rng.between(150, 182));
  out.weight_kg = static_cast<int>(sex == Sex::male ? rng.between(55, 110) : rng.between(45, 100));
  out.source = pick(rng, kSources);
  out.heart_condition = rng.chance(0.12);

  // The day the details change: geometric, 5 % a day from the first day on (one draw, so it
  // does not depend on how long the data set is).
  Rng change(seed, Purpose::rider_change, static_cast<std::uint64_t>(rider));
  const double wait_days = std::log(1 - change.uniform()) / std::log(1 - kDetailChangePerDay);
  const std::int64_t change_day = start_day + static_cast<std::int64_t>(std::min(wait_days, 1e7));
  if (on_day >= change_day) {
    const double what = change.uniform();
    if (what < 0.5) out.address = draw_address(change);
    if (what >= 0.3 && what < 0.8) out.email = draw_email(change, title, first, last);
    out.weight_kg += static_cast<int>(change.between(-4, 4));
    if (what >= 0.8) out.height_cm += 1;
  }
  return out;
}

// The user JSON of a [SYSTEM] line, compact and in the feed's key order.
std::string user_json(const Rider& rider) {
  std::string json = "{\"user_id\":";
  gen::append_int(json, rider.user_id);
  json.append(",\"name\":\"").append(rider.name);
  if (!rider.gender_missing) json.append("\",\"gender\":\"").append(rider.gender);
  json.append("\",\"address\":\"").append(rider.address);
  json.append("\",\"date_of_birth\":");
  gen::append_int(json, rider.birth_day * kDayMs);
  json.append(",\"email_address\":\"").append(rider.email);
  json.append("\",\"height_cm\":");
  gen::append_int(json, rider.height_cm);
  json.append(",\"weight_kg\":");
  gen::append_int(json, rider.weight_kg);
  json.append(",\"account_create_date\":");
  gen::append_int(json, rider.account_day * kDayMs);
  json.append(",\"bike_serial\":\"SN0000\",\"original_source\":\"").append(rider.source).append("\"}");
  return json;
}

// `text` as the inside of a JSON string (the feed is ASCII; only quotes and backslashes need it).
std::string json_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The generation context: the options, resolved once
// ---------------------------------------------------------------------------

struct Context {
  std::uint64_t seed = 0;
  std::int64_t bikes = 0, streams = 0, riders = 0;
  std::int64_t start_day = 0;
  std::int64_t data_start = 0, data_end = 0;  // us
  std::int64_t window_us = 0, windows = 0;
  double bad_line_rate = 0, duplicate_rate = 0;
  const PowerTable* power = nullptr;
};

Context make_context(const GenerateOptions& options) {
  validate(options);
  Context context;
  context.seed = options.seed;
  context.bikes = options.bikes;
  context.streams = options.streams;
  context.riders = options.riders > 0 ? options.riders : 3 * options.bikes;
  context.start_day = *parse_date(options.start_date);
  context.data_start = context.start_day * kDayUs;
  context.data_end = context.data_start + options.days * kDayUs;
  context.window_us = options.hours_per_file * kHourUs;
  context.windows = window_count(options);
  context.bad_line_rate = options.bad_line_rate;
  context.duplicate_rate = options.duplicate_rate;
  context.power = &power_table();
  return context;
}

// ---------------------------------------------------------------------------
// Ride schedule: a bike's rides of one day, from (seed, bike, day)
// ---------------------------------------------------------------------------

struct RidePlan {
  std::int64_t start = 0;  // us: the "Getting user data" line; the [SYSTEM] line is one step later
  std::int64_t seconds = 0;
  std::int64_t step = kLineStepUs;
  std::uint64_t key = 0;     // identifies the ride in every draw
  bool main_marker = false;  // preceded by "--------- beginning of main" (the app restarted)
};

// Line q of a ride: -2 "beginning of main", -1 "beginning of a new ride", 0 "Getting user data",
// 1 [SYSTEM], 2k the ride line of second k, 2k + 1 its telemetry (k = 1 .. seconds).
std::int64_t last_line(const RidePlan& plan) {
  return 2 * plan.seconds + 1;
}

// The time a line sorts by in its stream: its timestamp; the markers (no timestamp) just before
// the ride's first timestamped line.
std::int64_t line_time(const RidePlan& plan, std::int64_t q) {
  if (q < 0) return plan.start + q;
  const auto jitter = static_cast<std::int64_t>(counter_draw(plan.key ^ kJitterSalt, static_cast<std::uint64_t>(q)) %
                                                static_cast<std::uint64_t>(kLineJitterUs));
  return plan.start + q * plan.step + jitter;
}

std::int64_t draw_ride_seconds(Rng& rng) {
  // About 40 % are the app's standard ride (the real feed's ~520 s); the rest several hundred to 2000 s.
  if (rng.chance(0.4)) return rng.between(500, 540);
  const double u = rng.uniform();
  return kMinRideSeconds + std::llround(static_cast<double>(kMaxRideSeconds - kMinRideSeconds) * std::pow(u, 1.6));
}

std::vector<RidePlan> day_schedule(const Context& context, std::int64_t bike, std::int64_t day) {
  const std::uint64_t index = (static_cast<std::uint64_t>(bike) << 21) + static_cast<std::uint64_t>(day + 1);
  Rng rng(context.seed, Purpose::schedule, index);
  const std::int64_t day_start = context.data_start + day * kDayUs;
  // A ride starting at a random time in [earliest, earliest + room - its own length - 2 min).
  const auto draw_plan = [&](std::int64_t earliest, std::int64_t room, bool fits_in_room, bool main_marker) {
    RidePlan plan;
    plan.seconds = draw_ride_seconds(rng);
    plan.step = kLineStepUs + rng.between(12, 21);
    plan.key = rng.next();
    plan.main_marker = main_marker;
    const std::int64_t free = fits_in_room ? room - (plan.seconds + 120) * kSecondUs : room;
    plan.start = earliest + static_cast<std::int64_t>(rng.uniform() * static_cast<double>(free));
    return plan;
  };
  std::vector<RidePlan> plans;
  if (day >= 0) {
    // Rides between 05:00 and 23:00, one per slot: a slot is at least 2 h 15 min long, so rides
    // never overlap.
    const std::int64_t rides = rng.between(2, 8);
    const std::int64_t slot = 18 * kHourUs / rides;
    for (std::int64_t i = 0; i < rides; ++i) {
      const bool main_marker = i == 0 || rng.chance(0.1);  // the app starts in the morning
      plans.push_back(draw_plan(day_start + 5 * kHourUs + i * slot, slot, true, main_marker));
    }
  }
  // A late ride runs past midnight (at least a minute on each side); every night one bike is sure
  // to have one. On the day before the data set it is the ride the dump begins inside (always for
  // the first bike of each stream, so that every stream begins so). It starts after 23:26, when the
  // day's slots are over.
  double late_chance = 0.12;
  if (day < 0) late_chance = bike < context.streams ? 1.0 : 0.5;
  if (day >= 0 && bike == day % context.bikes) late_chance = 1.0;
  if (rng.chance(late_chance)) {
    const bool main_marker = rng.chance(0.5);
    RidePlan plan = draw_plan(day_start, 0, false, main_marker);
    const double before_midnight_s = 60 + rng.uniform() * static_cast<double>(plan.seconds - 120);
    plan.start = day_start + kDayUs - static_cast<std::int64_t>(before_midnight_s * kSecondUs);
    plans.push_back(plan);
  }
  return plans;
}

// The rides of `bike` with a line in [from, to), in time order.
std::vector<RidePlan> rides_between(const Context& context, std::int64_t bike, std::int64_t from, std::int64_t to) {
  const std::int64_t longest = (2 * kMaxRideSeconds + 2) * (kLineStepUs + 30);
  const std::int64_t first_day = std::max<std::int64_t>(-1, floor_div(from - longest - context.data_start, kDayUs));
  const std::int64_t last_day = floor_div(to - 1 - context.data_start, kDayUs);
  std::vector<RidePlan> rides;
  for (std::int64_t day = first_day; day <= last_day; ++day) {
    for (const RidePlan& plan : day_schedule(context, bike, day)) {
      if (line_time(plan, -2) < to && line_time(plan, last_line(plan)) >= from) rides.push_back(plan);
    }
  }
  return rides;
}

// ---------------------------------------------------------------------------
// A ride's shape, from (seed, ride), and its readings, from (seed, ride, second)
// ---------------------------------------------------------------------------

struct Burst {
  int start = 0, length = 0;    // seconds
  int level = 0, recovery = 0;  // resistance in the burst and for 2 s after it
  double sprint_rpm = 0, heart_gain = 0;
};

enum class EpisodeKind { alert, pair, broken };  // >= 3 abnormal; exactly 2; 2, hrt 0, 2

struct Episode {
  int start = 0, length = 0;
  EpisodeKind kind = EpisodeKind::alert;
  bool high = true;
};

struct Reading {
  int resistance = 0, rpm = 0, heart_rate = 0;
};

class RideModel {
 public:
  RideModel(const Context& context, std::int64_t bike, const RidePlan& plan) : plan_(plan) {
    Rng rng(context.seed, Purpose::ride, plan.key);
    seconds_ = static_cast<int>(plan.seconds);
    choose_rider(context, bike, rng);
    draw_resistance(rng);
    draw_cadence(rng);
    draw_heart(rng);
    draw_episodes(rng);
    orphan_ = line_time(plan, 1) < context.data_start;
  }

  const RidePlan& plan() const { return plan_; }
  int seconds() const { return seconds_; }
  bool orphan() const { return orphan_; }
  const Rider& rider() const { return rider_; }
  const std::string& escaped_user_json() const { return escaped_user_json_; }
  // Second of the third abnormal reading of the first alerting run (0: none).
  int alert_second() const { return alert_second_; }
  // Damage is kept away from episodes so that what alerts (and what must not) is exactly planted.
  bool near_episode(int second) const {
    for (int i = 0; i < episode_count_; ++i) {
      if (second >= episodes_[i].start - 2 && second < episodes_[i].start + episodes_[i].length + 2) return true;
    }
    return false;
  }

  Reading reading(int k) const { return {resistance(k), rpm(k), heart_rate(k)}; }

 private:
  void choose_rider(const Context& context, std::int64_t bike, Rng& rng) {
    // A bike belongs to a household of 1-4 riders; now and then a guest rides it.
    Rng household(context.seed, Purpose::household, static_cast<std::uint64_t>(bike));
    const double size_draw = household.uniform();
    const std::int64_t members = size_draw < 0.4 ? 1 : (size_draw < 0.7 ? 2 : (size_draw < 0.9 ? 3 : 4));
    std::int64_t member[4];
    for (auto& m : member) m = household.below(context.riders);
    const std::int64_t rider = rng.chance(0.08) ? rng.below(context.riders) : member[rng.below(members)];
    const std::int64_t ride_day = floor_div(plan_.start, kDayUs);
    rider_ = draw_rider(context.seed, context.start_day, rider, ride_day);
    escaped_user_json_ = json_escaped(user_json(rider_));
    const Sex sex = sex_of(rider_.gender);
    const int age = age_in_years(rider_.birth_day, ride_day);
    hr_lower_ = lower_limit(sex, age);
    hr_upper_ = upper_limit(sex, age);
  }

  void draw_resistance(Rng& rng) {
    static constexpr int kBaseLevels[] = {20, 25, 30, 30, 30, 30, 35, 40, 45, 50, 60};
    base_level_ = kBaseLevels[rng.below(count_of(kBaseLevels))];
    // Sometimes a plateau at another level for a while (the real feed shows 60 and 95).
    if (rng.chance(0.3)) {
      plateau_start_ = static_cast<int>(seconds_ * rng.uniform(0.3, 0.6));
      plateau_end_ = plateau_start_ + static_cast<int>(seconds_ * rng.uniform(0.1, 0.3));
      static constexpr int kPlateauRise[] = {10, 20, 30, 65};
      plateau_level_ = base_level_ + kPlateauRise[rng.below(4)];
    }
    // Sprints: ~20 s at a high resistance, then 2 s half way down (170 -> 99 in the real feed).
    int at = static_cast<int>(rng.between(90, 150));
    while (burst_count_ < kMaxBursts && at + 30 < seconds_) {
      Burst& burst = bursts_[burst_count_++];
      burst.start = at;
      burst.length = static_cast<int>(rng.between(15, 26));
      burst.level = rng.chance(0.4) ? 170 : static_cast<int>(rng.between(100, 180));
      burst.recovery = (burst.level + base_level_) / 2 - 1;
      burst.sprint_rpm = rng.uniform(95, 145);
      burst.heart_gain = rng.uniform(0.6, 1.0);
      at += burst.length + 2 + static_cast<int>(rng.between(130, 250));
    }
  }

  void draw_cadence(Rng& rng) {
    rpm_start_ = static_cast<int>(rng.between(4, 6));  // rpm 0 for the first seconds
    cadence_ = rng.uniform(45, 75);
    fatigue_ = rng.uniform(0.0, 0.35);
    rpm_wander_ = rng.uniform(3, 8);
    rpm_noise_ = rng.uniform(2, 8);
  }

  void draw_heart(Rng& rng) {
    hr_start_ = static_cast<int>(rng.between(6, 9));  // hrt 0 until the pulse is picked up
    normal_high_ = hr_upper_ - 3;
    normal_low_ = std::min(hr_lower_ + 3, normal_high_);
    rest_ = std::max<double>(static_cast<double>(rng.between(58, 79)), normal_low_ + 4);
    warm_ = rng.uniform(8, 18);
    drift_ = rng.uniform(0.005, 0.03);
    decay_s_ = rng.uniform(250, 500);
    const double effort = rng.uniform(0.35, 0.6) * (normal_high_ - rest_);
    for (int i = 0; i < burst_count_; ++i) bursts_[i].heart_gain *= effort;
  }

  void draw_episodes(Rng& rng) {
    // Riders with a heart condition have 1-3 episodes in most rides; others rarely a harmless one.
    int count = 0;
    if (rider_.heart_condition) {
      count = rng.chance(0.75) ? static_cast<int>(rng.between(1, 3)) : 0;
    } else if (rng.chance(0.03)) {
      count = 1;
    }
    const int first = hr_start_ + 20, last = seconds_ - 15;
    const int part = (last - first) / std::max(count, 1);
    for (int i = 0; i < count && part > 20; ++i) {
      Episode& episode = episodes_[episode_count_++];
      const double kind_draw = rng.uniform();
      if (rider_.heart_condition && kind_draw < 0.5) {
        episode.kind = EpisodeKind::alert;
        episode.length = static_cast<int>(rng.between(3, 10));
      } else if (kind_draw < 0.75) {
        episode.kind = EpisodeKind::pair;
        episode.length = 2;
      } else {
        episode.kind = EpisodeKind::broken;
        episode.length = 5;
      }
      episode.high = rng.chance(0.6);
      episode.start = first + i * part + static_cast<int>(rng.below(part - episode.length - 6));
      if (episode.kind == EpisodeKind::alert && alert_second_ == 0) alert_second_ = episode.start + 2;
    }
  }

  int resistance(int k) const {
    if (k <= 2) return 0;
    for (int i = 0; i < burst_count_; ++i) {
      const Burst& burst = bursts_[i];
      if (k < burst.start) break;
      if (k < burst.start + burst.length) return burst.level;
      if (k < burst.start + burst.length + 2) return burst.recovery;
    }
    return k >= plateau_start_ && k < plateau_end_ ? plateau_level_ : base_level_;
  }

  // Smooth random variation: values at knots every `period` seconds, eased between them.
  double wander(Salt salt, int k, int period) const {
    const int knot = k / period;
    double f = static_cast<double>(k - knot * period) / period;
    f = f * f * (3 - 2 * f);
    const double a = unit_draw(plan_.key, salt, knot), b = unit_draw(plan_.key, salt, knot + 1);
    return 2 * (a + (b - a) * f) - 1;
  }

  int rpm(int k) const {
    if (k <= rpm_start_) return 0;
    const std::uint64_t bits = counter_draw(plan_.key ^ kRpmNoiseSalt, static_cast<std::uint64_t>(k));
    const double triangle =
        (static_cast<double>(bits & 0xffff) + static_cast<double>((bits >> 16) & 0xffff)) / 65536.0 - 1;
    const double progress = static_cast<double>(k) / seconds_;
    double value = 0;
    const Burst* burst = burst_at(k);
    if (burst != nullptr) {
      value = burst->sprint_rpm * (1 - 0.35 * (k - burst->start) / burst->length) + 4 * triangle;
    } else {
      value = cadence_ * (1 - fatigue_ * progress) + rpm_wander_ * wander(kRpmWanderSalt, k, 23) +
              rpm_noise_ * (0.4 + 0.9 * progress) * triangle;
      if ((bits >> 32) % 1000 < 12) value *= 0.2 + 0.4 * static_cast<double>((bits >> 42) & 0xff) / 256.0;  // a dip
    }
    return std::min(round_non_negative(value), static_cast<int>(kMaxRpm));
  }

  const Burst* burst_at(int k) const {
    for (int i = 0; i < burst_count_; ++i) {
      if (k < bursts_[i].start) return nullptr;
      if (k < bursts_[i].start + bursts_[i].length) return &bursts_[i];
    }
    return nullptr;
  }

  bool dropout(int k) const {
    // Isolated losses of the pulse, 1 or 2 s (the real feed has them at 94-95 and 310).
    const auto starts = [&](int at) { return unit_draw(plan_.key, kDropoutSalt, at) < 0.003; };
    if (starts(k)) return true;
    return starts(k - 1) && (counter_draw(plan_.key ^ kDropoutSalt, static_cast<std::uint64_t>(k - 1)) & 1) != 0;
  }

  int heart_rate(int k) const {
    if (k < hr_start_) return 0;
    for (int i = 0; i < episode_count_; ++i) {
      const Episode& episode = episodes_[i];
      if (k < episode.start - 2 || k >= episode.start + episode.length + 2) continue;
      const int at = k - episode.start;
      if (at < 0 || at >= episode.length) break;  // normal neighbours, no dropout there
      if (episode.kind == EpisodeKind::broken && at == 2) return 0;
      const std::int64_t offset =
          static_cast<std::int64_t>(counter_draw(plan_.key ^ kEpisodeSalt, static_cast<std::uint64_t>(k)) % 18);
      return episode.high ? hr_upper_ + 4 + static_cast<int>(offset)
                          : std::max(25, hr_lower_ - 4 - static_cast<int>(offset / 2));
    }
    if (!near_episode(k) && dropout(k)) return 0;
    double value = rest_ + warm_ * 40.0 / (40.0 + k) + drift_ * k + 0.15 * (cadence_ - 55);
    for (int i = 0; i < burst_count_; ++i) {
      const Burst& burst = bursts_[i];
      const int since = k - burst.start;
      if (since < 0) break;
      const int rise = burst.length + 8;  // the pulse lags the effort
      value +=
          since <= rise ? burst.heart_gain * since / rise : burst.heart_gain * decay_s_ / (decay_s_ + since - rise);
    }
    const std::uint64_t bits = counter_draw(plan_.key ^ kHrNoiseSalt, static_cast<std::uint64_t>(k));
    value += 3 * wander(kHrWanderSalt, k, 31) + static_cast<double>(bits % 3) - 1;
    return std::clamp(round_non_negative(value), normal_low_, normal_high_);
  }

  static constexpr int kMaxBursts = 16;
  static constexpr int kMaxEpisodes = 3;

  RidePlan plan_;
  int seconds_ = 0;
  bool orphan_ = false;
  Rider rider_;
  std::string escaped_user_json_;
  int hr_lower_ = 0, hr_upper_ = 0, normal_low_ = 0, normal_high_ = 0;
  int base_level_ = 30, plateau_start_ = 0, plateau_end_ = 0, plateau_level_ = 30;
  Burst bursts_[kMaxBursts];
  int burst_count_ = 0;
  int rpm_start_ = 5;
  double cadence_ = 60, fatigue_ = 0, rpm_wander_ = 0, rpm_noise_ = 0;
  int hr_start_ = 8;
  double rest_ = 70, warm_ = 10, drift_ = 0, decay_s_ = 300;
  Episode episodes_[kMaxEpisodes];
  int episode_count_ = 0;
  int alert_second_ = 0;
};

// ---------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------

struct BikeText {
  std::string name;
  std::string marker_tail;       //  <bike>: Getting user data from server..\n"}<LF>
  std::string system_prefix;     //  <bike>: [SYSTEM] data =
  std::string ride_prefix;       //  <bike>: [INFO]: Ride - duration =
  std::string telemetry_prefix;  //  <bike>: [INFO]: Telemetry - hrt =
};

BikeText bike_text(std::int64_t bike) {
  BikeText text;
  text.name = bike_name(bike);
  const std::string head = " " + json_escaped(text.name) + ": ";
  text.marker_tail = head + "Getting user data from server..\\n\"}\n";
  text.system_prefix = head + "[SYSTEM] data = ";
  text.ride_prefix = head + "[INFO]: Ride - duration = ";
  text.telemetry_prefix = head + "[INFO]: Telemetry - hrt = ";
  return text;
}

constexpr std::string_view kRecordHead = "{\"log\": \"";
constexpr std::string_view kRecordTail = "\\n\"}\n";
constexpr std::string_view kMainMarkerLine = "{\"log\": \"--------- beginning of main\\n\"}\n";
constexpr std::string_view kNewRideMarkerLine = "{\"log\": \"--------- beginning of a new ride\\n\"}\n";
constexpr std::size_t kMaxFastLine = 1024;

// YYYY-MM-DD HH:MM:SS.ffffff, with the date part cached (it changes once a day).
class TimestampWriter {
 public:
  char* write(char* out, std::int64_t us) {
    const std::int64_t day = floor_div(us, kDayUs);
    if (day != day_) {
      day_ = day;
      const CivilDate date = civil_from_days(day);
      char* at = gen::write_zero_padded(date_, static_cast<std::uint64_t>(date.year), 4);
      *at++ = '-';
      at = gen::write_two_digits(at, static_cast<unsigned>(date.month));
      *at++ = '-';
      gen::write_two_digits(at, static_cast<unsigned>(date.day));
      date_[10] = ' ';
    }
    std::memcpy(out, date_, sizeof date_);
    out += sizeof date_;
    const std::int64_t of_day = us - day * kDayUs;
    const auto seconds = static_cast<unsigned>(of_day / kSecondUs);
    out = gen::write_two_digits(out, seconds / 3600);
    *out++ = ':';
    out = gen::write_two_digits(out, seconds / 60 % 60);
    *out++ = ':';
    out = gen::write_two_digits(out, seconds % 60);
    *out++ = '.';
    return gen::write_zero_padded(out, static_cast<std::uint64_t>(of_day % kSecondUs), 6);
  }
  std::string text(std::int64_t us) {
    char buffer[32];
    return std::string(buffer, write(buffer, us));
  }

 private:
  std::int64_t day_ = std::numeric_limits<std::int64_t>::min();
  char date_[11] = {};
};

enum class LineKind { marker, system, ride, telemetry };

LineKind kind_of_line(std::int64_t q) {
  if (q <= 0) return LineKind::marker;
  if (q == 1) return LineKind::system;
  return q % 2 == 0 ? LineKind::ride : LineKind::telemetry;
}

// The damage line q of a ride draws (nullopt: intact), before the neighbour rule of damage_of.
std::optional<DamageKind> drawn_damage(const Context& context, const RideModel& ride, std::int64_t q) {
  if (context.bad_line_rate <= 0 || q < 0) return std::nullopt;
  const std::uint64_t bits = counter_draw(ride.plan().key ^ kDamageSalt, static_cast<std::uint64_t>(q));
  if (unit_interval(bits) >= context.bad_line_rate) return std::nullopt;
  const std::uint64_t choice = (bits & 0xffff) % 6;
  switch (kind_of_line(q)) {
    case LineKind::marker:
      return choice < 2 ? DamageKind::bad_timestamp : (choice < 4 ? DamageKind::unknown_shape : DamageKind::bad_record);
    case LineKind::system: return DamageKind::bad_user_json;
    case LineKind::ride:
    case LineKind::telemetry: {
      if (ride.near_episode(static_cast<int>(q / 2))) return std::nullopt;  // second k: lines 2k, 2k + 1
      static constexpr DamageKind kInfoDamage[] = {DamageKind::bad_record,     DamageKind::unknown_shape,
                                                   DamageKind::bad_timestamp,  DamageKind::bad_number,
                                                   DamageKind::negative_value, DamageKind::lost_telemetry};
      const DamageKind kind = kInfoDamage[choice];
      if (kind == DamageKind::lost_telemetry && kind_of_line(q) == LineKind::ride) return DamageKind::lost_ride_line;
      return kind;
    }
  }
  return std::nullopt;
}

// Which damage line q of a ride gets (nullopt: written intact); a pure function of the ride and q.
// A ride line right after a bad telemetry line stays intact: otherwise a reader would pair the
// ride line before them with the next telemetry, and the planted readings would not be the read ones.
std::optional<DamageKind> damage_of(const Context& context, const RideModel& ride, std::int64_t q) {
  auto damage = drawn_damage(context, ride, q);
  if (damage && q >= 4 && kind_of_line(q) == LineKind::ride && drawn_damage(context, ride, q - 1)) return std::nullopt;
  return damage;
}

bool is_lost(DamageKind kind) {
  return kind == DamageKind::lost_telemetry || kind == DamageKind::lost_ride_line;
}

// The text of a broken line (rare, so built with strings). `values` are the line's number texts.
std::string damaged_line(DamageKind kind, std::uint64_t variant_bits, LineKind line_kind, std::string timestamp,
                         std::string_view bike, std::vector<std::string> values, const Rider* rider) {
  Rng draws(variant_bits, 0, 0);
  const auto variant = [&](std::int64_t count) { return static_cast<int>(draws.below(count)); };
  std::string body;
  const auto info_body = [&](bool broken_shape) {
    const int shape = broken_shape ? variant(4) : -1;
    const std::string_view level = shape == 0 ? "[WARN]: " : "[INFO]: ";
    const std::string_view separator = shape == 2 ? ", " : "; ";
    std::size_t fields = values.size();
    if (shape == 3) --fields;  // a field missing
    if (line_kind == LineKind::ride) {
      body.append(level).append(shape == 1 ? "Ride duration = " : "Ride - duration = ").append(values[0]);
      if (fields > 1) body.append(separator).append("resistance = ").append(values[1]);
    } else {
      body.append(level).append(shape == 1 ? "Telemetry hrt = " : "Telemetry - hrt = ").append(values[0]);
      if (fields > 1) body.append(separator).append("rpm = ").append(values[1]);
      if (fields > 2) body.append(separator).append("power = ").append(values[2]);
    }
  };
  switch (kind) {
    case DamageKind::bad_timestamp: {
      switch (variant(7)) {
        case 0: timestamp.replace(5, 2, "13"); break;  // month 13
        case 1: timestamp.replace(5, 5, "02-30"); break;
        case 2: timestamp.replace(11, 2, "24"); break;
        case 3: timestamp.replace(14, 2, "60"); break;
        case 4: timestamp.replace(17, 2, "60"); break;
        case 5: timestamp.push_back('7'); break;  // seven fraction digits
        default:
          timestamp[4] = '/';
          timestamp[7] = '/';
          break;
      }
      break;
    }
    case DamageKind::bad_number: {
      // An integer field gets a non-integer, a number field a non-number.
      const auto field = static_cast<std::size_t>(variant(static_cast<std::int64_t>(values.size())));
      const bool integer_field = line_kind == LineKind::ride ? field == 1 : field < 2;
      static constexpr std::string_view kBadIntegers[] = {"1e2", "4x", "+5", "0x1F"};
      static constexpr std::string_view kBadNumbers[] = {"NaN", "1.2.3", "Infinity", "1e400", ".5", "5."};
      if (integer_field) {
        values[field] = variant(5) == 0 ? values[field] + ".0" : std::string(kBadIntegers[variant(4)]);
      } else {
        values[field] = kBadNumbers[variant(6)];
      }
      break;
    }
    case DamageKind::negative_value: {
      const auto field = static_cast<std::size_t>(variant(static_cast<std::int64_t>(values.size())));
      const bool zero = values[field] == "0" || values[field] == "0.0";
      values[field] = "-" + (zero ? std::string(values[field] == "0" ? "1" : "1.5") : values[field]);
      break;
    }
    default: break;
  }
  if (line_kind == LineKind::marker) {
    if (kind == DamageKind::unknown_shape) {
      static constexpr std::string_view kBadMarkers[] = {
          "Getting user data from server.", "Getting user data from server...", "getting user data from server.."};
      body = kBadMarkers[variant(3)];
    } else {
      body = "Getting user data from server..";
    }
  } else if (line_kind == LineKind::system) {
    // The ride still starts, with an unknown rider: user_id a string, a float, null, missing, or
    // the data not an object.
    std::string json = user_json(*rider);
    const std::string id = std::to_string(rider->user_id);
    const std::string id_field = "\"user_id\":" + id;
    switch (variant(5)) {
      case 0: json.replace(0, 1 + id_field.size(), "{\"user_id\":\"" + id + "\""); break;
      case 1: json.replace(0, 1 + id_field.size(), "{" + id_field + ".0"); break;
      case 2: json.replace(0, 1 + id_field.size(), "{\"user_id\":null"); break;
      case 3: json.replace(0, 2 + id_field.size(), "{"); break;
      default: json = "[" + id + ",\"" + rider->name + "\"]"; break;
    }
    body = "[SYSTEM] data = " + json;
  } else {
    info_body(kind == DamageKind::unknown_shape);
  }
  const std::string log = json_escaped(timestamp + " " + std::string(bike) + ": " + body) + "\\n";
  if (kind != DamageKind::bad_record) return "{\"log\": \"" + log + "\"}\n";
  switch (variant(5)) {
    case 0: {
      // Cut short inside the string: never valid JSON.
      const std::size_t keep = 10 + static_cast<std::size_t>(variant(static_cast<std::int64_t>(log.size()) - 10));
      std::string cut = "{\"log\": \"" + log.substr(0, keep);
      while (!cut.empty() && cut.back() == '\\') cut.pop_back();  // no dangling escape
      return cut + "\n";
    }
    case 1: return "{\"log\": \"" + log + "\"\n";       // no closing brace
    case 2: return "{\"message\": \"" + log + "\"}\n";  // no log key
    case 3: return "{\"log\": [\"" + log + "\"]}\n";    // log not a string
    default: return "\"" + log + "\"\n";                // not an object
  }
}

// ---------------------------------------------------------------------------
// One bike's lines in one window, one at a time
// ---------------------------------------------------------------------------

class BikeCursor {
 public:
  BikeCursor(const Context& context, std::int64_t bike, std::vector<RidePlan> rides, std::int64_t from, std::int64_t to,
             bool data_ends)
      : context_(context),
        bike_(bike),
        text_(bike_text(bike)),
        rides_(std::move(rides)),
        to_(to),
        data_ends_(data_ends) {
    enter_ride(0, from);
  }

  bool done() const { return !ride_.has_value(); }
  std::int64_t key() const { return key_; }  // sort key (time) of the next line
  // Lines left out so far (lost_telemetry or lost_ride_line).
  std::int64_t lost(DamageKind kind) const { return lost_[kind == DamageKind::lost_telemetry ? 0 : 1]; }

  // Writes the current line and moves on.
  void emit(gen::OutputBuffer& out, FileStats& stats) {
    if (copy_next_ <= copy_last_) {
      write_line(out, copy_next_, true, stats);
      ++copy_next_;
      if (copy_next_ > copy_last_) advance(q_ + 1);
      return;
    }
    write_line(out, q_, false, stats);
    const std::int64_t resent = resent_block_after(q_);
    if (resent > 0) {
      copy_next_ = q_ - resent + 1;
      copy_last_ = q_;
      return;  // the copies follow at once, with this line's sort key
    }
    advance(q_ + 1);
  }

 private:
  void enter_ride(std::size_t index, std::int64_t from) {
    ride_.reset();
    for (ride_index_ = index; ride_index_ < rides_.size(); ++ride_index_) {
      const RidePlan& plan = rides_[ride_index_];
      const std::int64_t first = first_line_at(plan, from);
      std::int64_t end = first_line_at(plan, to_);
      // The data set ends with whole readings: a ride line whose telemetry lies past the end is not written.
      if (data_ends_ && end >= 3 && end % 2 == 1 && end <= last_line(plan)) --end;
      if (first >= end) continue;
      ride_.emplace(context_, bike_, plan);
      end_ = end;
      cached_second_ = -1;
      advance(first);
      if (ride_.has_value()) return;
    }
  }

  // The first line q of the ride with line_time >= time (last_line + 1 if none).
  static std::int64_t first_line_at(const RidePlan& plan, std::int64_t time) {
    if (time <= plan.start - 2) return -2;
    if (time <= plan.start - 1) return -1;
    if (time <= plan.start) return 0;
    std::int64_t q = std::min((time - plan.start) / plan.step, last_line(plan));
    while (q > 0 && line_time(plan, q - 1) >= time) --q;
    while (q <= last_line(plan) && line_time(plan, q) < time) ++q;
    return q;
  }

  // Moves to the first line from q on that is written, counting lost lines on the way.
  void advance(std::int64_t q) {
    const RidePlan& plan = ride_->plan();
    for (; q < end_; ++q) {
      if (q == -2 && !plan.main_marker) continue;
      const auto damage = damage_of(context_, *ride_, q);
      if (damage && is_lost(*damage)) {
        ++lost_[*damage == DamageKind::lost_telemetry ? 0 : 1];
        continue;
      }
      q_ = q;
      key_ = line_time(plan, q);
      return;
    }
    enter_ride(ride_index_ + 1, std::numeric_limits<std::int64_t>::min());
  }

  // Kafka's at-least-once delivery: now and then the few lines up to this one come again. Only
  // whole, intact lines of one ride that starts in the data set, from its [SYSTEM] line on.
  std::int64_t resent_block_after(std::int64_t q) const {
    if (q < 1 || ride_->orphan() || context_.duplicate_rate <= 0) return 0;
    const std::uint64_t bits = counter_draw(ride_->plan().key ^ kDuplicateSalt, static_cast<std::uint64_t>(q));
    if (unit_interval(bits) >= context_.duplicate_rate) return 0;
    const std::int64_t length = std::min<std::int64_t>(2 + static_cast<std::int64_t>((bits & 0xffff) % 5), q);
    for (std::int64_t line = q - length + 1; line <= q; ++line) {
      if (damage_of(context_, *ride_, line)) return 0;
    }
    return length;
  }

  const Reading& reading_of(int second) {
    if (second != cached_second_) {
      cached_reading_ = ride_->reading(second);
      cached_second_ = second;
    }
    return cached_reading_;
  }

  void write_line(gen::OutputBuffer& out, std::int64_t q, bool copy, FileStats& stats) {
    ++stats.lines;
    if (copy) ++stats.duplicates;
    const LineKind kind = kind_of_line(q);
    const auto damage = damage_of(context_, *ride_, q);
    if (!copy && !damage && q >= 2 && ride_->orphan()) ++stats.orphan_lines;
    if (damage) {
      if (!copy) ++stats.damaged[static_cast<std::size_t>(*damage)];
      write_damaged(out, q, *damage);
    } else {
      write_intact(out, q);
    }
    if (copy) return;
    if (kind == LineKind::system) ++stats.rides;
    if (kind == LineKind::telemetry && !damage && !ride_->orphan() && !damage_of(context_, *ride_, q - 1)) {
      ++stats.readings;
      const auto second = static_cast<int>(q / 2);
      if (second == ride_->alert_second() && !damage_of(context_, *ride_, 1)) ++stats.alert_rides;
    }
  }

  void write_intact(gen::OutputBuffer& out, std::int64_t q) {
    const RidePlan& plan = ride_->plan();
    if (q < 0) {
      out.append(q == -2 ? kMainMarkerLine : kNewRideMarkerLine);
      return;
    }
    if (q == 1) {
      const std::string& json = ride_->escaped_user_json();
      char* line = out.reserve(kMaxFastLine + json.size() + text_.system_prefix.size());
      char* at = gen::write_text(line, kRecordHead);
      at = timestamps_.write(at, line_time(plan, q));
      at = gen::write_text(at, text_.system_prefix);
      at = gen::write_text(at, json);
      out.commit(gen::write_text(at, kRecordTail));
      return;
    }
    char* line = out.reserve(kMaxFastLine + text_.marker_tail.size());
    char* at = gen::write_text(line, kRecordHead);
    at = timestamps_.write(at, line_time(plan, q));
    if (q == 0) {
      out.commit(gen::write_text(at, text_.marker_tail));
      return;
    }
    const auto second = static_cast<int>(q / 2);
    const Reading& reading = reading_of(second);
    if (q % 2 == 0) {
      at = gen::write_int(gen::write_text(at, text_.ride_prefix), second);
      at = gen::write_text(at, ".0; resistance = ");
      at = gen::write_int(at, reading.resistance);
    } else {
      at = gen::write_int(gen::write_text(at, text_.telemetry_prefix), reading.heart_rate);
      at = gen::write_int(gen::write_text(at, "; rpm = "), reading.rpm);
      at = context_.power->write(gen::write_text(at, "; power = "), reading.resistance, reading.rpm);
    }
    out.commit(gen::write_text(at, kRecordTail));
  }

  void write_damaged(gen::OutputBuffer& out, std::int64_t q, DamageKind damage) {
    const RidePlan& plan = ride_->plan();
    const LineKind kind = kind_of_line(q);
    std::vector<std::string> values;
    if (kind == LineKind::ride || kind == LineKind::telemetry) {
      const auto second = static_cast<int>(q / 2);
      const Reading reading = reading_of(second);
      if (kind == LineKind::ride) {
        values = {std::to_string(second) + ".0", std::to_string(reading.resistance)};
      } else {
        values = {std::to_string(reading.heart_rate), std::to_string(reading.rpm),
                  power_text(reading.resistance, reading.rpm)};
      }
    }
    const std::uint64_t bits = counter_draw(plan.key ^ kDamageSalt, static_cast<std::uint64_t>(q));
    out.append(damaged_line(damage, bits, kind, timestamps_.text(line_time(plan, q)), text_.name, std::move(values),
                            &ride_->rider()));
  }

  const Context& context_;
  std::int64_t bike_;
  BikeText text_;
  std::vector<RidePlan> rides_;
  std::int64_t to_;
  bool data_ends_;
  std::size_t ride_index_ = 0;
  std::optional<RideModel> ride_;
  std::int64_t q_ = 0, end_ = 0, key_ = 0;
  std::int64_t copy_next_ = 1, copy_last_ = 0;  // re-sent lines still to write
  std::int64_t lost_[2] = {0, 0};
  int cached_second_ = -1;
  Reading cached_reading_;
  TimestampWriter timestamps_;
};

// Writes file (stream, window): the stream's bikes merged by line time (ties: the lower bike).
void generate_into(const Context& context, std::int64_t stream, std::int64_t window, gen::OutputBuffer& out,
                   FileStats& stats) {
  const std::int64_t from = context.data_start + window * context.window_us;
  const std::int64_t to = std::min(from + context.window_us, context.data_end);
  const bool data_ends = to == context.data_end;
  std::vector<std::unique_ptr<BikeCursor>> cursors;
  for (std::int64_t bike = stream; bike < context.bikes; bike += context.streams) {
    std::vector<RidePlan> rides = rides_between(context, bike, from, to);
    if (rides.empty()) continue;
    auto cursor = std::make_unique<BikeCursor>(context, bike, std::move(rides), from, to, data_ends);
    cursors.push_back(std::move(cursor));
  }
  // A binary min-heap of cursor indices on (key, index).
  std::vector<std::size_t> heap;
  const auto before = [&](std::size_t a, std::size_t b) {
    return cursors[a]->key() < cursors[b]->key() || (cursors[a]->key() == cursors[b]->key() && a < b);
  };
  const auto sift_down = [&](std::size_t at) {
    const std::size_t size = heap.size();
    while (true) {
      std::size_t smallest = at;
      const std::size_t left = 2 * at + 1, right = left + 1;
      if (left < size && before(heap[left], heap[smallest])) smallest = left;
      if (right < size && before(heap[right], heap[smallest])) smallest = right;
      if (smallest == at) return;
      std::swap(heap[at], heap[smallest]);
      at = smallest;
    }
  };
  for (std::size_t i = 0; i < cursors.size(); ++i) {
    if (!cursors[i]->done()) heap.push_back(i);
  }
  for (std::size_t i = heap.size() / 2; i-- > 0;) sift_down(i);
  while (!heap.empty()) {
    BikeCursor& cursor = *cursors[heap.front()];
    cursor.emit(out, stats);
    if (cursor.done()) {
      heap.front() = heap.back();
      heap.pop_back();
    }
    if (!heap.empty()) sift_down(0);
  }
  for (const auto& cursor : cursors) {
    stats.damaged[static_cast<std::size_t>(DamageKind::lost_telemetry)] += cursor->lost(DamageKind::lost_telemetry);
    stats.damaged[static_cast<std::size_t>(DamageKind::lost_ride_line)] += cursor->lost(DamageKind::lost_ride_line);
  }
}

// ---------------------------------------------------------------------------
// Folders and the collective write
// ---------------------------------------------------------------------------

std::vector<std::int64_t> stats_vector(const FileStats& stats, std::int64_t files) {
  std::vector<std::int64_t> values = {files,          stats.lines,      stats.bytes,        stats.rides,
                                      stats.readings, stats.duplicates, stats.orphan_lines, stats.alert_rides};
  values.insert(values.end(), stats.damaged.begin(), stats.damaged.end());
  return values;
}

FileStats stats_from(const std::vector<std::int64_t>& values) {
  FileStats stats;
  stats.lines = values[1];
  stats.bytes = values[2];
  stats.rides = values[3];
  stats.readings = values[4];
  stats.duplicates = values[5];
  stats.orphan_lines = values[6];
  stats.alert_rides = values[7];
  std::copy(values.begin() + 8, values.end(), stats.damaged.begin());
  return stats;
}

// Rank 0: refuse (or with overwrite, remove) an existing non-empty out/deloton, then create the
// stream folders.
void prepare_folders(const GenerateOptions& options) {
  const std::filesystem::path root = options.out / "deloton";
  std::error_code error;
  if (std::filesystem::exists(root, error)) {
    if (!std::filesystem::is_directory(root, error)) {
      throw std::runtime_error("generate: " + root.string() + " exists and is not a folder");
    }
    std::int64_t entries = 0;
    std::string example;
    for (std::filesystem::directory_iterator it(root, error), end; !error && it != end; it.increment(error)) {
      if (entries++ == 0) example = it->path().filename().string();
    }
    if (error) throw std::runtime_error("generate: cannot list " + root.string() + ": " + error.message());
    if (entries > 0 && !options.overwrite) {
      throw std::runtime_error("generate: " + root.string() + " already holds " + std::to_string(entries) +
                               " entries (e.g. " + example +
                               "); pass --overwrite to replace that folder, or choose another --out");
    }
    if (entries > 0) {
      std::filesystem::remove_all(root, error);
      if (error) throw std::runtime_error("generate: cannot remove " + root.string() + ": " + error.message());
    }
  }
  for (std::int64_t stream = 0; stream < options.streams; ++stream) {
    const std::filesystem::path folder = root / stream_folder(options, stream);
    std::filesystem::create_directories(folder, error);
    if (error) throw std::runtime_error("generate: cannot create " + folder.string() + ": " + error.message());
  }
}

// Writes one file through a FileSink created on the first bytes (windows without lines get no file).
bool write_file(const GenerateOptions& options, const Context& context, std::int64_t stream, std::int64_t window,
                FileStats& totals) {
  const std::filesystem::path path = file_path(options, stream, window);
  std::optional<FileSink> sink;
  gen::OutputBuffer out([&](std::string_view data) {
    if (!sink) sink.emplace(path);
    sink->write(data);
  });
  FileStats stats;
  generate_into(context, stream, window, out, stats);
  out.flush();
  stats.bytes = out.bytes();
  totals.add(stats);
  if (!sink) return false;
  sink->close();
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------

std::string_view damage_kind_name(DamageKind kind) {
  switch (kind) {
    case DamageKind::bad_record: return "bad_record";
    case DamageKind::unknown_shape: return "unknown_shape";
    case DamageKind::bad_timestamp: return "bad_timestamp";
    case DamageKind::bad_number: return "bad_number";
    case DamageKind::negative_value: return "negative_value";
    case DamageKind::bad_user_json: return "bad_user_json";
    case DamageKind::lost_telemetry: return "lost_telemetry";
    case DamageKind::lost_ride_line: return "lost_ride_line";
  }
  return "unknown";
}

std::int64_t FileStats::bad_lines() const {
  std::int64_t sum = 0;
  for (const std::int64_t count : damaged) sum += count;
  return sum;
}

void FileStats::add(const FileStats& other) {
  lines += other.lines;
  bytes += other.bytes;
  rides += other.rides;
  readings += other.readings;
  duplicates += other.duplicates;
  orphan_lines += other.orphan_lines;
  alert_rides += other.alert_rides;
  for (std::size_t i = 0; i < kDamageKinds; ++i) damaged[i] += other.damaged[i];
}

void validate(const GenerateOptions& options) {
  const auto require = [](bool condition, const std::string& message) {
    if (!condition) throw std::invalid_argument("generate: " + message);
  };
  require(options.bikes >= 1 && options.bikes <= max_bikes(),
          "bikes must be between 1 and " + std::to_string(max_bikes()));
  require(options.days >= 1 && options.days <= kMaxDays, "days must be between 1 and " + std::to_string(kMaxDays));
  require(options.streams >= 1 && options.streams <= 100000, "streams must be between 1 and 100000");
  require(options.riders >= 0 && options.riders <= 100'000'000, "riders must be between 0 and 100000000");
  require(options.hours_per_file >= 1 && options.hours_per_file <= 24 * 366,
          "hours_per_file must be between 1 and 8784");
  require(options.bad_line_rate >= 0 && options.bad_line_rate <= 1, "bad_line_rate must be in [0, 1]");
  require(options.duplicate_rate >= 0 && options.duplicate_rate <= 0.1, "duplicate_rate must be in [0, 0.1]");
  require(options.target_bytes >= 0, "target_bytes must be >= 0");
  const auto start = parse_date(options.start_date);
  require(start.has_value(), "start_date must be a date YYYY-MM-DD from 1900 on (got '" + options.start_date + "')");
  require(civil_from_days(*start + options.days + 1).year <= 9999, "the data set must end before the year 10000");
}

std::int64_t resolve_days(const GenerateOptions& options) {
  validate(options);
  if (options.target_bytes == 0) return options.days;
  // Bytes grow with bikes x days: measure a bike-day on a small deterministic probe.
  GenerateOptions probe = options;
  probe.bikes = std::min<std::int64_t>(options.bikes, 64);
  probe.streams = 1;
  probe.days = 2;
  probe.hours_per_file = 24;
  probe.target_bytes = 0;
  const Context context = make_context(probe);
  std::int64_t bytes = 0;
  for (std::int64_t window = 0; window < context.windows; ++window) {
    gen::OutputBuffer out([&](std::string_view data) { bytes += static_cast<std::int64_t>(data.size()); });
    FileStats stats;
    generate_into(context, 0, window, out, stats);
    out.flush();
  }
  const double per_bike_day = static_cast<double>(bytes) / static_cast<double>(probe.bikes * probe.days);
  const double days = static_cast<double>(options.target_bytes) / (per_bike_day * static_cast<double>(options.bikes));
  return std::clamp<std::int64_t>(std::llround(days), 1, kMaxDays);
}

std::int64_t window_count(const GenerateOptions& options) {
  return gen::block_count(options.days * 24, options.hours_per_file);
}

std::int64_t file_count(const GenerateOptions& options) {
  return window_count(options) * options.streams;
}

std::string stream_folder(const GenerateOptions& options, std::int64_t stream) {
  if (options.root_stream && stream == 0) return "";
  return "partition=" + std::to_string(stream);
}

std::filesystem::path file_path(const GenerateOptions& options, std::int64_t stream, std::int64_t window) {
  const std::string name =
      "deloton+" + std::to_string(stream) + "+" + gen::zero_padded(window, kFileIndexWidth) + ".json";
  const std::string folder = stream_folder(options, stream);
  const std::filesystem::path root = options.out / "deloton";
  return folder.empty() ? root / name : root / folder / name;
}

std::int64_t max_bikes() {
  return kBikeCodes;
}

std::string bike_name(std::int64_t bike) {
  if (bike < 0 || bike >= kBikeCodes) throw std::invalid_argument("bike_name: bike out of range");
  const std::int64_t code = (bike * kBikeCodeStride + 9) % kBikeCodes;
  const std::int64_t word = code / 10;
  std::string name(kBikeHeads[word % count_of(kBikeHeads)]);
  name.append(kBikeTails[word / count_of(kBikeHeads)]).append(" v");
  name.push_back(static_cast<char>('0' + code % 10));
  return name;
}

double power_watts(std::int64_t resistance, std::int64_t rpm) {
  if (rpm <= 0) return 0.0;
  return fitted_power(resistance, rpm);
}

std::string power_text(std::int64_t resistance, std::int64_t rpm) {
  return feed_number_text(power_watts(resistance, rpm));
}

FileStats generate_file_into(const GenerateOptions& options, std::int64_t stream, std::int64_t window,
                             gen::OutputBuffer& out) {
  const Context context = make_context(options);
  if (stream < 0 || stream >= options.streams || window < 0 || window >= context.windows) {
    throw std::invalid_argument("generate_file: no file (" + std::to_string(stream) + ", " + std::to_string(window) +
                                ")");
  }
  const std::int64_t bytes_before = out.bytes();
  FileStats stats;
  generate_into(context, stream, window, out, stats);
  stats.bytes = out.bytes() - bytes_before;
  return stats;
}

GeneratedFile generate_file(const GenerateOptions& options, std::int64_t stream, std::int64_t window) {
  gen::OutputBuffer out;
  GeneratedFile file;
  file.stats = generate_file_into(options, stream, window, out);
  file.text = out.take();
  return file;
}

GenerateReport generate_landing(const GenerateOptions& options, const Comm& comm) {
  // Pure functions of the options: they fail alike on every rank.
  GenerateOptions resolved = options;
  try {
    if (options.out.empty()) throw std::invalid_argument("generate: no output folder");
    resolved.days = resolve_days(options);
    resolved.target_bytes = 0;
  } catch (const std::invalid_argument& error) {
    throw ConsistentError(error.what());
  }
  const Context context = make_context(resolved);
  comm.on_root([&] { prepare_folders(resolved); });

  const auto started = std::chrono::steady_clock::now();
  FileStats local;
  std::int64_t files = 0;
  std::string error;
  try {
    for (const std::int64_t file : gen::blocks_of_rank(file_count(resolved), comm.rank(), comm.size())) {
      files += write_file(resolved, context, file % resolved.streams, file / resolved.streams, local) ? 1 : 0;
    }
  } catch (const std::exception& failure) {
    error = failure.what();
    if (error.empty()) error = "generate: writing failed";
  }
  comm.throw_if_any(error);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const std::vector<std::int64_t> totals = comm.allreduce_sum(stats_vector(local, files));
  GenerateReport report;
  report.files = totals[0];
  report.days = resolved.days;
  report.totals = stats_from(totals);
  report.seconds = comm.allreduce_max(seconds);
  return report;
}

}  // namespace mpilake::deloton
