#pragma once
// Stable hashing and hash partitioning. The hash must be identical on every rank and every run (it
// decides which rank owns a key), so it is written here rather than taken from std::hash, whose
// values are implementation-defined. FNV-1a + a splitmix64 finaliser: simple and well mixed.
#include <cstdint>
#include <string_view>
#include <vector>

namespace mpilake {

constexpr std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr std::uint64_t hash_bytes(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

constexpr std::uint64_t hash_int64(std::int64_t value) {
  return mix64(static_cast<std::uint64_t>(value) + 0x9e3779b97f4a7c15ULL);
}

constexpr std::uint64_t hash_combine(std::uint64_t a, std::uint64_t b) {
  return mix64(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

// Maps a hash to [0, parts) with the multiply-shift range reduction (uses the high bits).
constexpr int partition_for(std::uint64_t hash, int parts) {
  return static_cast<int>((static_cast<unsigned __int128>(hash) * static_cast<unsigned>(parts)) >> 64);
}

// Destination rank of each of `rows` rows, from `hash_of_row(row)`.
template <class HashOfRow>
std::vector<int> partition_rows(std::size_t rows, int parts, HashOfRow&& hash_of_row) {
  std::vector<int> destination(rows);
  for (std::size_t r = 0; r < rows; ++r) destination[r] = partition_for(hash_of_row(r), parts);
  return destination;
}

}  // namespace mpilake
