#pragma once
// Stable hashing and hash partitioning. The hash must be identical on every rank and every run (it
// decides which rank owns a key), so it is written here rather than taken from std::hash, whose
// values are implementation-defined. A word-at-a-time multiply-xor hash + the splitmix64 finaliser:
// simple, fast and well mixed.
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

// Little-endian 8-byte load, written so it is usable in constant expressions (compilers turn it
// into one load).
constexpr std::uint64_t load_le64(const char* bytes, std::size_t count = 8) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < count; ++i) value |= std::uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  return value;
}

// Eight bytes per step (keys are emails and serial numbers: a few words long), then mix64.
constexpr std::uint64_t hash_bytes(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ (bytes.size() * 0x9e3779b97f4a7c15ULL);
  std::size_t at = 0;
  for (; at + 8 <= bytes.size(); at += 8) {
    h ^= load_le64(bytes.data() + at);
    h *= 0x9fb21c651e98df25ULL;
    h ^= h >> 32;
  }
  if (at < bytes.size()) {
    h ^= load_le64(bytes.data() + at, bytes.size() - at);
    h *= 0x9fb21c651e98df25ULL;
  }
  return mix64(h);
}

constexpr std::uint64_t hash_int64(std::int64_t value) {
  return mix64(static_cast<std::uint64_t>(value) + 0x9e3779b97f4a7c15ULL);
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
