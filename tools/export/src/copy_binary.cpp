#include "mpilake/export/copy_binary.hpp"

#include <bit>
#include <cstring>
#include <limits>

namespace mpilake::exporter {

namespace {

// timestamptz's valid range in µs since 2000 (PostgreSQL's MIN_TIMESTAMP and END_TIMESTAMP).
constexpr std::int64_t kMinTimestamp = -211813488000000000LL;
constexpr std::int64_t kEndTimestamp = 9223371331200000000LL;

// Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(unsigned y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Length of the valid UTF-8 sequence at `s` (0 when invalid), per RFC 3629 (no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(const unsigned char* s, std::size_t left) {
  const unsigned char c = s[0];
  if (c < 0x80) return 1;
  auto cont = [&](std::size_t i) { return i < left && (s[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;
    if (c == 0xED && s[1] > 0x9F) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;
    if (c == 0xF4 && s[1] > 0x8F) return 0;
    return 4;
  }
  return 0;
}

bool is_valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    if (s[i] < 0x80 && s[i] != 0) {
      ++i;
      continue;
    }
    const std::size_t length = s[i] == 0 ? 0 : utf8_sequence(s + i, text.size() - i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

}  // namespace

std::optional<std::int64_t> postgres_timestamp_from_micros(std::int64_t unix_micros) {
  if (unix_micros < std::numeric_limits<std::int64_t>::min() + kPostgresEpochMicros) return std::nullopt;
  const std::int64_t value = unix_micros - kPostgresEpochMicros;
  if (value < kMinTimestamp || value >= kEndTimestamp) return std::nullopt;
  return value;
}

std::optional<std::int64_t> postgres_timestamp_from_millis(std::int64_t unix_millis) {
  constexpr std::int64_t kLimit = std::numeric_limits<std::int64_t>::max() / 1000;
  if (unix_millis > kLimit || unix_millis < -kLimit) return std::nullopt;
  return postgres_timestamp_from_micros(unix_millis * 1000);
}

std::optional<std::int32_t> postgres_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto digits = [&](std::size_t from, std::size_t count) -> int {
    int value = 0;
    for (std::size_t i = from; i < from + count; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  const int year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1) return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int month_days = kDays[month - 1] + (month == 2 && is_leap(static_cast<unsigned>(year)) ? 1 : 0);
  if (day > month_days) return std::nullopt;
  return static_cast<std::int32_t>(days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) -
                                   days_from_civil(2000, 1, 1));
}

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    // NUL is valid UTF-8 but not allowed in PostgreSQL text.
    const std::size_t length = s[i] == 0 ? 0 : utf8_sequence(s + i, text.size() - i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

void CopyBinaryEncoder::header() {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // 11 bytes with the final NUL
  bytes_.append(kSignature, 11);
  put32(0);  // flags: no OIDs
  put32(0);  // header extension length
}

void CopyBinaryEncoder::trailer() {
  put16(-1);
}

void CopyBinaryEncoder::float8(double value) {
  put32(8);
  put64(std::bit_cast<std::uint64_t>(value));
}

void CopyBinaryEncoder::text(std::string_view utf8) {
  if (!is_valid_utf8(utf8)) {
    const std::string fixed = valid_utf8(utf8);
    text(fixed);
    return;
  }
  put32(static_cast<std::int32_t>(utf8.size()));
  bytes_.append(utf8);
}

void CopyBinaryEncoder::put16(std::int16_t value) {
  const auto v = static_cast<std::uint16_t>(value);
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  bytes_.append(b, 2);
}

void CopyBinaryEncoder::put32(std::int32_t value) {
  std::uint32_t v = static_cast<std::uint32_t>(value);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
  char b[4];
  std::memcpy(b, &v, 4);
  bytes_.append(b, 4);
}

void CopyBinaryEncoder::put64(std::uint64_t value) {
  if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap64(value);
  char b[8];
  std::memcpy(b, &value, 8);
  bytes_.append(b, 8);
}

}  // namespace mpilake::exporter
