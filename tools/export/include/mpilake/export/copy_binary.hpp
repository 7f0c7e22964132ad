#pragma once
// Encodes rows in PostgreSQL's binary COPY format (COPY ... FROM STDIN (FORMAT binary)): no text
// escaping, and timestamps and dates travel as the integers the server stores. Hand-written from the
// format's documentation (PostgreSQL 15, "COPY: Binary Format"): a header, per row a 16-bit field
// count and per field a 32-bit length (-1: NULL) and the value in network byte order, a trailer.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mpilake::exporter {

// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
inline constexpr std::int64_t kPostgresEpochMicros = 946684800LL * 1000000;

// µs since 1970 -> µs since 2000, or nothing outside timestamptz's range (4714 BC .. 294276 AD).
std::optional<std::int64_t> postgres_timestamp_from_micros(std::int64_t unix_micros);
// ms since 1970 -> µs since 2000, or nothing outside the range (or when ×1000 overflows).
std::optional<std::int64_t> postgres_timestamp_from_millis(std::int64_t unix_millis);
// "YYYY-MM-DD" (a valid proleptic Gregorian date, years 0001..9999) -> days since 2000-01-01.
std::optional<std::int32_t> postgres_date(std::string_view text);
// `text` with every invalid UTF-8 sequence replaced by U+FFFD (the server rejects invalid text).
std::string valid_utf8(std::string_view text);

class CopyBinaryEncoder {
 public:
  CopyBinaryEncoder() = default;
  void header();   // once, before the first row
  void trailer();  // once, after the last row
  void begin_row(std::int16_t fields) { put16(fields); }
  void null() { put32(-1); }
  void bigint(std::int64_t value) {
    put32(8);
    put64(static_cast<std::uint64_t>(value));
  }
  void float8(double value);
  void timestamp(std::int64_t postgres_micros) { bigint(postgres_micros); }
  void date(std::int32_t postgres_days) {
    put32(4);
    put32(postgres_days);
  }
  void text(std::string_view utf8);  // checked: invalid UTF-8 is replaced, see valid_utf8

  const std::string& bytes() const { return bytes_; }
  std::size_t size() const { return bytes_.size(); }
  void clear() { bytes_.clear(); }

 private:
  void put16(std::int16_t value);
  void put32(std::int32_t value);
  void put64(std::uint64_t value);
  std::string bytes_;
};

}  // namespace mpilake::exporter
