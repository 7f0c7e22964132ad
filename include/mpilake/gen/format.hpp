#pragma once
// Hand-formatted numbers and text for the generators' hot paths: each function writes at `out`
// and returns the end, with no locale, no iostreams and no allocation. The caller makes sure the
// buffer has room (an int64 needs at most 20 bytes).
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace mpilake::gen {

inline char* write_text(char* out, std::string_view text) {
  std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

inline char* write_int(char* out, std::int64_t value) {
  return std::to_chars(out, out + 20, value).ptr;
}

// Two decimal digits of `value` (0..99), e.g. the "07" of a minute.
inline char* write_two_digits(char* out, unsigned value) {
  out[0] = static_cast<char>('0' + value / 10);
  out[1] = static_cast<char>('0' + value % 10);
  return out + 2;
}

// `value` with exactly `width` digits, zero-padded on the left (value must fit).
inline char* write_zero_padded(char* out, std::uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

// value / 1000 with three decimals, e.g. -0.052 (rounding via integers is fast and exact).
inline char* write_thousandths(char* out, std::int64_t value) {
  if (value < 0) {
    *out++ = '-';
    value = -value;
  }
  out = write_int(out, value / 1000);
  const auto fraction = static_cast<int>(value % 1000);
  *out++ = '.';
  *out++ = static_cast<char>('0' + fraction / 100);
  *out++ = static_cast<char>('0' + fraction / 10 % 10);
  *out++ = static_cast<char>('0' + fraction % 10);
  return out;
}

inline void append_int(std::string& out, std::int64_t value) {
  char digits[24];
  out.append(digits, write_int(digits, value));
}

}  // namespace mpilake::gen
