// Request-target parsing: percent-decoding, dot segments, control bytes, parameters, ids, dates.
#include "mpilake/serve/target.hpp"

#include <gtest/gtest.h>

#include "mpilake/serve/dates.hpp"

namespace mpilake::serve {
namespace {

TEST(ServeTarget, SplitsAndDecodes) {
  const Target t = parse_target("/rides/12?date=2022-10-01&limit=5&q=a+b%21");
  EXPECT_EQ(t.segments, (std::vector<std::string>{"rides", "12"}));
  EXPECT_EQ(t.params.at("date"), "2022-10-01");
  EXPECT_EQ(t.params.at("q"), "a b!");
  EXPECT_TRUE(parse_target("/").segments.empty());
  EXPECT_TRUE(parse_target("/?").params.empty());
  EXPECT_EQ(parse_target("/x?flag").params.at("flag"), "");
}

TEST(ServeTarget, RefusesHostileTargets) {
  for (const char* bad : {"", "rides", "http://x/rides", "/rides/1%00", "/a/../b", "/a/./b", "/%2e%2e/etc", "/a//b",
                          "/a%2Fb", "/a%zz", "/a%4", "/a%", "/a\x01", "/x?a=%00", "/x?a=1&a=2", "/x#frag", "/x?%0a=1"})
    EXPECT_THROW(parse_target(bad), BadRequest) << bad;
}

TEST(ServeTarget, PercentDecode) {
  EXPECT_EQ(percent_decode("%41%62c", false), "Abc");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_FALSE(percent_decode("%7f", false));
  EXPECT_FALSE(percent_decode("%1", false));
  EXPECT_EQ(percent_decode("%C3%A9", false), "\xC3\xA9");
}

TEST(ServeTarget, Ids) {
  EXPECT_EQ(parse_id("1", "id"), 1);
  EXPECT_EQ(parse_id("999999999999999999", "id"), 999999999999999999);
  for (const char* bad : {"", "0", "-1", "+1", "1.5", "1e3", "abc", " 1", "1000000000000000000", "0x10"})
    EXPECT_THROW(parse_id(bad, "id"), BadRequest) << bad;
  EXPECT_EQ(parse_bounded("0", "limit", 1000), 0);
  EXPECT_EQ(parse_bounded("1000", "limit", 1000), 1000);
  for (const char* bad : {"1001", "-1", "", "x", "99999999999999999999"})
    EXPECT_THROW(parse_bounded(bad, "limit", 1000), BadRequest) << bad;
}

TEST(ServeDates, StrictCalendarDates) {
  EXPECT_EQ(parse_date("1970-01-01"), 0);
  EXPECT_EQ(parse_date("2022-10-01"), 19266);
  EXPECT_EQ(parse_date("2024-02-29"), 19782);
  for (const char* bad : {"2023-02-29", "2022-13-01", "2022-00-10", "2022-1-01", "20221001", "0000-01-01",
                          "2022-10-01 ", "2022/10/01", "yesterday", ""})
    EXPECT_FALSE(parse_date(bad)) << bad;
  EXPECT_EQ(date_text(19266), "2022-10-01");
  EXPECT_EQ(day_of(-1), -1);
  EXPECT_EQ(time_text(1'000'000), "1970-01-01T00:00:01Z");
}

TEST(ServeDates, FullYearsWithLeapBirthdays) {
  const auto d = [](const char* text) { return *parse_date(text); };
  EXPECT_EQ(full_years(d("1990-02-28"), d("2022-02-27")), 31);
  EXPECT_EQ(full_years(d("1990-02-28"), d("2022-02-28")), 32);
  EXPECT_EQ(full_years(d("2000-02-29"), d("2023-02-28")), 22);  // 29 February counts from 1 March
  EXPECT_EQ(full_years(d("2000-02-29"), d("2023-03-01")), 23);
  EXPECT_EQ(full_years(d("2000-02-29"), d("2024-02-29")), 24);
}

}  // namespace
}  // namespace mpilake::serve
