#pragma once
// Random numbers for the synthetic data generators: splitmix64 for seeding, xoshiro256** for
// streams, and a stateless counter-based draw. Every distribution is hand-written, so the bytes a
// generator writes do not depend on the standard library's implementation; all of it is inline
// because the generators call it for every value they write.
#include <array>
#include <cstdint>
#include <type_traits>

namespace mpilake::gen {

inline std::uint64_t splitmix64_next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform double in [0, 1) from the top 53 bits of a draw.
inline double unit_interval(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// One xoshiro256** stream per (seed, purpose, index). Separate purposes keep the draws of one
// value independent of another's (a draw added to one never shifts another).
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
    std::uint64_t state = seed;
    state = splitmix64_next(state) ^ (stream * 0xd1b54a32d192ed03ULL);
    state = splitmix64_next(state) ^ index;
    for (auto& word : words_) word = splitmix64_next(state);
  }
  // Lets a generator name its purposes with its own enum.
  template <class Stream>
  requires std::is_enum_v<Stream> Rng(std::uint64_t seed, Stream stream, std::uint64_t index)
      : Rng(seed, static_cast<std::uint64_t>(stream), index) {}

  std::uint64_t next() {
    const std::uint64_t result = rotl(words_[1] * 5, 7) * 9;
    const std::uint64_t shifted = words_[1] << 17;
    words_[2] ^= words_[0];
    words_[3] ^= words_[1];
    words_[1] ^= words_[2];
    words_[0] ^= words_[3];
    words_[2] ^= shifted;
    words_[3] = rotl(words_[3], 45);
    return result;
  }

  double uniform() { return unit_interval(next()); }  // [0, 1)
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  bool chance(double probability) { return uniform() < probability; }
  // Integer in [0, bound); bound must be > 0 and well below 2^53.
  std::int64_t below(std::int64_t bound) { return static_cast<std::int64_t>(uniform() * static_cast<double>(bound)); }
  // Integer in [low, high].
  std::int64_t between(std::int64_t low, std::int64_t high) { return low + below(high - low + 1); }
  // Approximately standard normal: Irwin-Hall sum of four 16-bit uniforms cut from one draw
  // (cheap, no libm, bounded by +-3.5; plenty for sensor noise).
  double normal() {
    const std::uint64_t bits = next();
    const std::uint64_t sum = (bits & 0xffff) + ((bits >> 16) & 0xffff) + ((bits >> 32) & 0xffff) + (bits >> 48);
    return (static_cast<double>(sum) * (1.0 / 65536.0) - 2.0) * 1.7320508075688772;
  }

 private:
  static std::uint64_t rotl(std::uint64_t value, int bits) { return (value << bits) | (value >> (64 - bits)); }
  std::array<std::uint64_t, 4> words_{};
};

// A stateless draw: 64 random bits that depend only on (key, counter). For values that must be
// computable on their own, e.g. the noise of second 734 of a ride without drawing seconds 1..733.
// `key` should itself be a well-mixed value (such as a draw from an Rng).
inline std::uint64_t counter_draw(std::uint64_t key, std::uint64_t counter) {
  std::uint64_t state = key ^ (counter * 0xd1b54a32d192ed03ULL);
  return splitmix64_next(state);
}

}  // namespace mpilake::gen
