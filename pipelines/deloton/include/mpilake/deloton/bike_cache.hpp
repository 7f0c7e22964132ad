#pragma once
// The key ids of the bikes last seen in one stream: the parse's row loop asks here before it builds
// a (stream, bike) key's text and hashes it into the rank's key index. A stream's lines come from a
// few bikes at a time, so almost every line is a hit.
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace mpilake::deloton {

class BikeIdCache {
 public:
  // The longest bike name kept; longer ones always go to `lookup`.
  static constexpr std::size_t kMaxBike = 23;

  // The id of `bike`: the cached one when `bike` is in its slot, else lookup(bike), which is then
  // cached. `lookup` must give the same id for the same bike every time (the cache never forgets
  // on its own; clear() when the ids change).
  template <class Lookup>
  std::uint32_t id(std::string_view bike, Lookup&& lookup) {
    if (bike.empty() || bike.size() > kMaxBike) return lookup(bike);
    Entry& entry = entries_[slot(bike)];
    if (entry.length == bike.size() && std::memcmp(entry.text, bike.data(), bike.size()) == 0) {
      ++hits_;
      return entry.id;
    }
    const std::uint32_t found = lookup(bike);
    entry.id = found;
    entry.length = static_cast<std::uint8_t>(bike.size());
    std::memcpy(entry.text, bike.data(), bike.size());
    return found;
  }
  void clear() { entries_ = {}; }
  std::uint64_t hits() const { return hits_; }

 private:
  static constexpr std::size_t kSlots = 64;
  struct Entry {
    std::uint32_t id = 0;
    std::uint8_t length = 0xFF;  // no bike: matches no length up to kMaxBike
    char text[kMaxBike] = {};
  };
  // Bike names differ mostly in their last bytes ("lomos v5", "lomos v9") and their length.
  static std::size_t slot(std::string_view bike) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bike[i]); };
    std::size_t h = bike.size();
    h = h * 31 + byte(0);
    h = h * 31 + byte(bike.size() / 2);
    h = h * 31 + byte(bike.size() - 1);
    return (h * 0x9E3779B97F4A7C15ull >> 40) % kSlots;
  }
  std::array<Entry, kSlots> entries_{};
  std::uint64_t hits_ = 0;
};

}  // namespace mpilake::deloton
