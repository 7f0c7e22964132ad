// The rider rules of DELOTON.md: gender, age, heart-rate limits (expected values worked out by hand
// from the formulas), age bands, names and addresses.
#include "mpilake/deloton/rider_rules.hpp"

#include <gtest/gtest.h>

#include "mpilake/deloton/log_line.hpp"

namespace mpilake::deloton {
namespace {

std::int64_t ms_of(std::int64_t year, unsigned month, unsigned day) {
  return days_from_civil(year, month, day) * kMillisPerDay;
}
std::int64_t us_of(std::int64_t year, unsigned month, unsigned day, std::int64_t micros_of_day = 0) {
  return days_from_civil(year, month, day) * kMicrosPerDay + micros_of_day;
}
constexpr std::int64_t kLastMicroOfDay = kMicrosPerDay - 1;

TEST(DelotonRiderRules, NormaliseGender) {
  EXPECT_EQ(normalise_gender("male"), Gender::male);
  EXPECT_EQ(normalise_gender("female"), Gender::female);
  for (const std::string_view other : {"", "other", "Male", "FEMALE", " male", "male ", "m", "f", "non-binary"})
    EXPECT_EQ(normalise_gender(other), Gender::other) << other;
  EXPECT_EQ(gender_name(Gender::male), "male");
  EXPECT_EQ(gender_name(Gender::female), "female");
  EXPECT_EQ(gender_name(Gender::other), "other");
}

TEST(DelotonRiderRules, ReplaceNul) {
  std::string text("a\0b\0", 4);
  EXPECT_TRUE(replace_nul(text));
  EXPECT_EQ(text,
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  std::string plain = "mendoza v9";
  EXPECT_FALSE(replace_nul(plain));
  EXPECT_EQ(plain, "mendoza v9");
  std::string only(1, '\0');
  EXPECT_TRUE(replace_nul(only));
  EXPECT_EQ(only, kNulReplacement);
}

TEST(DelotonRiderRules, AgeCountsFullYearsBetweenUtcDates) {
  const std::int64_t steven = 273715200000;         // 1978-09-04
  EXPECT_EQ(age_on(steven, 1667500920422392), 44);  // 2022-11-03 18:42
  EXPECT_EQ(age_on(steven, us_of(2022, 9, 3, kLastMicroOfDay)), 43);
  EXPECT_EQ(age_on(steven, us_of(2022, 9, 4)), 44);                       // the birthday counts from that day on
  EXPECT_EQ(age_on(steven + kMillisPerDay - 1, us_of(2022, 9, 4)), 44);   // the time of birth does not matter
  EXPECT_EQ(age_on(-842140800000, us_of(2022, 10, 4, 38860576790)), 79);  // Charlene Brown, 1943-04-26
  // Epoch ms before 1970 go to their date by floor division: -1 ms is 1969-12-31.
  EXPECT_EQ(age_on(-1, us_of(2000, 12, 30)), 30);
  EXPECT_EQ(age_on(-1, us_of(2000, 12, 31)), 31);
  EXPECT_EQ(age_on(0, us_of(2000, 12, 31)), 30);
  // A ride before 1970, and a birth after the ride (a negative age, no special case).
  EXPECT_EQ(age_on(ms_of(1900, 6, 15), us_of(1950, 6, 14, kLastMicroOfDay)), 49);
  EXPECT_EQ(age_on(ms_of(1900, 6, 15), us_of(1950, 6, 15)), 50);
  EXPECT_EQ(age_on(ms_of(2030, 1, 1), us_of(2022, 10, 4)), -8);
  EXPECT_EQ(age_on(ms_of(2022, 12, 1), us_of(2022, 10, 4)), -1);
  EXPECT_EQ(age_on(ms_of(2022, 10, 4), us_of(2022, 10, 4)), 0);
}

TEST(DelotonRiderRules, TwentyNinthOfFebruaryBirthdaysCountFromTheFirstOfMarch) {
  const std::int64_t leapling = ms_of(2000, 2, 29);
  EXPECT_EQ(age_on(leapling, us_of(2001, 2, 28)), 0);
  EXPECT_EQ(age_on(leapling, us_of(2001, 2, 28, kLastMicroOfDay)), 0);
  EXPECT_EQ(age_on(leapling, us_of(2001, 3, 1)), 1);
  EXPECT_EQ(age_on(leapling, us_of(2003, 2, 28)), 2);
  EXPECT_EQ(age_on(leapling, us_of(2003, 3, 1)), 3);
  EXPECT_EQ(age_on(leapling, us_of(2004, 2, 28)), 3);
  EXPECT_EQ(age_on(leapling, us_of(2004, 2, 29)), 4);   // in a leap year on the day itself
  EXPECT_EQ(age_on(leapling, us_of(2100, 2, 28)), 99);  // 2100 is no leap year
  EXPECT_EQ(age_on(leapling, us_of(2100, 3, 1)), 100);
  // And a 28 February or 1 March birthday is not moved.
  EXPECT_EQ(age_on(ms_of(2000, 2, 28), us_of(2001, 2, 28)), 1);
  EXPECT_EQ(age_on(ms_of(2000, 3, 1), us_of(2001, 2, 28)), 0);
  EXPECT_EQ(age_on(ms_of(2000, 3, 1), us_of(2004, 2, 29)), 3);
}

TEST(DelotonRiderRules, MaleHeartRateLimits) {
  // Under 40: 220 − age, lower 40; 40 and over: (2085 − 7·age) div 10, lower 47 to 64 and 52 from 65.
  EXPECT_EQ(heart_rate_limits(17, Gender::male), (HeartRateLimits{40, 203}));
  EXPECT_EQ(heart_rate_limits(18, Gender::male), (HeartRateLimits{40, 202}));
  EXPECT_EQ(heart_rate_limits(39, Gender::male), (HeartRateLimits{40, 181}));
  EXPECT_EQ(heart_rate_limits(40, Gender::male), (HeartRateLimits{47, 180}));  // 1805 div 10
  EXPECT_EQ(heart_rate_limits(41, Gender::male), (HeartRateLimits{47, 179}));  // 179.3
  EXPECT_EQ(heart_rate_limits(45, Gender::male), (HeartRateLimits{47, 177}));  // 176.5 rounds up
  EXPECT_EQ(heart_rate_limits(49, Gender::male), (HeartRateLimits{47, 174}));  // 173.7
  EXPECT_EQ(heart_rate_limits(55, Gender::male), (HeartRateLimits{47, 170}));  // 169.5 rounds up
  EXPECT_EQ(heart_rate_limits(64, Gender::male), (HeartRateLimits{47, 163}));  // 163.2
  EXPECT_EQ(heart_rate_limits(65, Gender::male), (HeartRateLimits{52, 163}));  // 162.5 rounds up
  EXPECT_EQ(heart_rate_limits(0, Gender::male), (HeartRateLimits{40, 220}));
  EXPECT_EQ(heart_rate_limits(-5, Gender::male), (HeartRateLimits{40, 225}));
  // Floor division of negative numerators: 297 → 6 div 10, 298 → −1 div 10, 300 → −15 div 10.
  EXPECT_EQ(heart_rate_limits(297, Gender::male), (HeartRateLimits{52, 0}));
  EXPECT_EQ(heart_rate_limits(298, Gender::male), (HeartRateLimits{52, -1}));
  EXPECT_EQ(heart_rate_limits(300, Gender::male), (HeartRateLimits{52, -2}));
}

TEST(DelotonRiderRules, FemaleAndOtherHeartRateLimits) {
  // (20650 − 88·age) div 100; lower 45 under 40, 52 to 64, 57 from 65.
  for (const Gender gender : {Gender::female, Gender::other}) {
    SCOPED_TRACE(std::string(gender_name(gender)));
    EXPECT_EQ(heart_rate_limits(17, gender), (HeartRateLimits{45, 191}));  // 191.04
    EXPECT_EQ(heart_rate_limits(18, gender), (HeartRateLimits{45, 190}));  // 190.16
    EXPECT_EQ(heart_rate_limits(25, gender), (HeartRateLimits{45, 184}));  // 184.0 (18450 div 100)
    EXPECT_EQ(heart_rate_limits(30, gender), (HeartRateLimits{45, 180}));  // 179.6 rounds up
    EXPECT_EQ(heart_rate_limits(39, gender), (HeartRateLimits{45, 172}));  // 171.68
    EXPECT_EQ(heart_rate_limits(40, gender), (HeartRateLimits{52, 171}));  // 170.8
    EXPECT_EQ(heart_rate_limits(64, gender), (HeartRateLimits{52, 150}));  // 149.68
    EXPECT_EQ(heart_rate_limits(65, gender), (HeartRateLimits{57, 149}));  // 148.8
    EXPECT_EQ(heart_rate_limits(0, gender), (HeartRateLimits{45, 206}));
    EXPECT_EQ(heart_rate_limits(-5, gender), (HeartRateLimits{45, 210}));   // 21090 div 100
    EXPECT_EQ(heart_rate_limits(300, gender), (HeartRateLimits{57, -58}));  // −5750 div 100
  }
}

TEST(DelotonRiderRules, AgeBands) {
  const struct {
    std::int64_t age;
    int band;
  } cases[] = {{-3, 0}, {0, 0},  {17, 0}, {18, 1}, {24, 1}, {25, 2}, {34, 2},  {35, 3},
               {44, 3}, {45, 4}, {54, 4}, {55, 5}, {64, 5}, {65, 6}, {120, 6}, {100000, 6}};
  for (const auto& c : cases) EXPECT_EQ(age_band(c.age), c.band) << c.age;
  EXPECT_EQ(kAgeBandNames[0], "under_18");
  EXPECT_EQ(kAgeBandNames[3], "35_44");
  EXPECT_EQ(kAgeBandNames[6], "65_plus");
}

TEST(DelotonRiderRules, SplitName) {
  const struct {
    std::string_view name;
    NameParts parts;
  } cases[] = {
      {"Steven Pearce", {"", "Steven", "Pearce"}},
      {"Mr Stuart Austin", {"Mr", "Stuart", "Austin"}},
      {"Dr. Jane Doe", {"Dr", "Jane", "Doe"}},
      {"Prof Ann Lee-Smith", {"Prof", "Ann", "Lee-Smith"}},
      {"Brian Norris-King", {"", "Brian", "Norris-King"}},
      {"Ms Jodie Dale", {"Ms", "Jodie", "Dale"}},
      {"Mrs. Jane van der Berg", {"Mrs", "Jane", "van der Berg"}},
      {"Miss Ada Lovelace", {"Miss", "Ada", "Lovelace"}},
      {"Mx Sam Lee", {"Mx", "Sam", "Lee"}},
      {"Mr Smith", {"Mr", "Smith", ""}},
      {"Mr", {"", "Mr", ""}},  // a title is removed only when another word follows
      {"Mr.", {"", "Mr.", ""}},
      {"Prof.", {"", "Prof.", ""}},
      {"  Ms \t Jodie\n  Dale  ", {"Ms", "Jodie", "Dale"}},
      {"Anne  Marie \t Smith  Jones", {"", "Anne", "Marie Smith Jones"}},
      {"MR John Smith", {"", "MR", "John Smith"}},  // exact case
      {"mr John", {"", "mr", "John"}},
      {"Mr.. John", {"", "Mr..", "John"}},  // one optional dot only
      {"Dr.Jane Doe", {"", "Dr.Jane", "Doe"}},
      {"Sir John", {"", "Sir", "John"}},
      {"Dr Mr Who", {"Dr", "Mr", "Who"}},  // one title at most
      {"John Mr Smith", {"", "John", "Mr Smith"}},
      {"Cher", {"", "Cher", ""}},
      {"", {"", "", ""}},
      {" \t ", {"", "", ""}},
  };
  for (const auto& c : cases) EXPECT_EQ(split_name(c.name), c.parts) << "'" << c.name << "'";
}

TEST(DelotonRiderRules, SplitAddress) {
  const struct {
    std::string_view address;
    AddressParts parts;
  } cases[] = {
      {"0 Simpson locks,Wilkinsonshire,E68 8SH", {"0 Simpson locks", "Wilkinsonshire", "E68 8SH"}},
      {"Flat 98y,Carolyn haven,East Valeriemouth,S5T 0TT", {"Flat 98y, Carolyn haven", "East Valeriemouth", "S5T 0TT"}},
      {"Studio 7,Smith road,Town,AB1 2CD", {"Studio 7, Smith road", "Town", "AB1 2CD"}},
      {"a,b,c,d,e", {"a, b, c", "d", "e"}},
      {"Town,AB1 2CD", {"", "Town", "AB1 2CD"}},
      {"AB1 2CD", {"", "", "AB1 2CD"}},
      {"", {"", "", ""}},
      {" 1 High St , Leeds ,\tLS1 1AA\t", {"1 High St", "Leeds", "LS1 1AA"}},
      {"Studio 7 , Smith road,  Town ,AB1 2CD ", {"Studio 7, Smith road", "Town", "AB1 2CD"}},
      {"a,,c", {"a", "", "c"}},
      {",,", {"", "", ""}},
      {"a,b,c,", {"a, b", "c", ""}},
      {"a\n,b,c", {"a", "b", "c"}},  // all ASCII whitespace is trimmed, as in the reference
  };
  for (const auto& c : cases) EXPECT_EQ(split_address(c.address), c.parts) << "'" << c.address << "'";
}

}  // namespace
}  // namespace mpilake::deloton
