#include "mpilake/export/copy_binary.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace mpilake::exporter {
namespace {

TEST(ExportCopyBinary, TimestampsAreMicrosSince2000) {
  EXPECT_EQ(postgres_timestamp_from_micros(kPostgresEpochMicros), 0);
  EXPECT_EQ(postgres_timestamp_from_micros(0), -kPostgresEpochMicros);
  EXPECT_EQ(postgres_timestamp_from_millis(946684800123), 123000);
  EXPECT_EQ(postgres_timestamp_from_micros(std::numeric_limits<std::int64_t>::min()), std::nullopt);
  // timestamptz reaches 294276 AD, beyond what int64 µs since 1970 can hold.
  EXPECT_TRUE(postgres_timestamp_from_micros(std::numeric_limits<std::int64_t>::max()).has_value());
  EXPECT_EQ(postgres_timestamp_from_millis(std::numeric_limits<std::int64_t>::max() / 10), std::nullopt);
  EXPECT_EQ(postgres_timestamp_from_millis(-std::numeric_limits<std::int64_t>::max() / 10), std::nullopt);
  // 4714-11-24 BC is the first day inside the range.
  EXPECT_TRUE(postgres_timestamp_from_micros(-211813488000000000LL + kPostgresEpochMicros).has_value());
  EXPECT_FALSE(postgres_timestamp_from_micros(-211813488000000000LL + kPostgresEpochMicros - 1).has_value());
}

TEST(ExportCopyBinary, DatesAreDaysSince2000) {
  EXPECT_EQ(postgres_date("2000-01-01"), 0);
  EXPECT_EQ(postgres_date("1999-12-31"), -1);
  EXPECT_EQ(postgres_date("2000-03-01"), 60);  // 2000 is a leap year
  EXPECT_EQ(postgres_date("1970-01-01"), -10957);
  EXPECT_EQ(postgres_date("2024-02-29"), 8825);
  EXPECT_EQ(postgres_date("0001-01-01"), -730119);
  EXPECT_EQ(postgres_date("2023-02-29"), std::nullopt);
  EXPECT_EQ(postgres_date("1900-02-29"), std::nullopt);
  EXPECT_EQ(postgres_date("2023-13-01"), std::nullopt);
  EXPECT_EQ(postgres_date("0000-01-01"), std::nullopt);
  EXPECT_EQ(postgres_date("2023-1-01"), std::nullopt);
  EXPECT_EQ(postgres_date("2023-01-01T"), std::nullopt);
  EXPECT_EQ(postgres_date(""), std::nullopt);
}

TEST(ExportCopyBinary, InvalidUtf8IsReplaced) {
  EXPECT_EQ(valid_utf8("plain"), "plain");
  EXPECT_EQ(valid_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(valid_utf8("cut \xC3"), "cut \xEF\xBF\xBD");
  EXPECT_EQ(valid_utf8(std::string("nul\0x", 5)), "nul\xEF\xBF\xBDx");
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(valid_utf8("\xF0\x9F\x9A\xB2"), "\xF0\x9F\x9A\xB2");                  // a bike emoji
}

TEST(ExportCopyBinary, FramesRowsInNetworkByteOrder) {
  CopyBinaryEncoder encoder;
  encoder.header();
  ASSERT_EQ(encoder.size(), 19U);
  EXPECT_EQ(encoder.bytes().substr(0, 11), std::string("PGCOPY\n\377\r\n\0", 11));
  encoder.clear();
  encoder.begin_row(3);
  encoder.bigint(258);
  encoder.null();
  encoder.text("ab");
  encoder.trailer();
  const std::string expected(
      "\0\3"
      "\0\0\0\x08\0\0\0\0\0\0\x01\x02"
      "\xFF\xFF\xFF\xFF"
      "\0\0\0\x02"
      "ab"
      "\xFF\xFF",
      2 + 12 + 4 + 6 + 2);
  EXPECT_EQ(encoder.bytes(), expected);
  encoder.clear();
  encoder.float8(1.0);
  EXPECT_EQ(encoder.bytes(), std::string("\0\0\0\x08\x3F\xF0\0\0\0\0\0\0", 12));
  encoder.clear();
  encoder.date(-1);
  EXPECT_EQ(encoder.bytes(), std::string("\0\0\0\x04\xFF\xFF\xFF\xFF", 8));
}

}  // namespace
}  // namespace mpilake::exporter
