#pragma once
// The order in which sorted zones put their cells, where it is not the language's own: doubles by
// value, and those that compare equal (0.0 and -0.0, NaNs) by their bits, so that every sort of the
// same rows gives the same bytes. The row sort (sample_sort) and the hand-written orders that must
// agree with it (the STEDI ML join) both use this.
#include <cstdint>
#include <cstring>

namespace mpilake {

// Three-way comparison: negative, zero or positive.
inline int compare_doubles(double x, double y) {
  if (x < y) return -1;
  if (x > y) return 1;
  std::int64_t bits_x, bits_y;
  std::memcpy(&bits_x, &x, 8);
  std::memcpy(&bits_y, &y, 8);
  return bits_x < bits_y ? -1 : (bits_x > bits_y ? 1 : 0);
}

}  // namespace mpilake
