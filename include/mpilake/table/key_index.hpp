#pragma once
// A hash index from keys to dense ids (0, 1, 2, ... in insertion order), for the joins: one lookup
// per fact row, so it is an open-addressing table with linear probing and the hash kept beside the
// id (a probe rarely touches the key). Written here because Debian's Boost (1.74) predates
// boost::unordered_flat_map and std::unordered_map allocates a node per key.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpilake/shuffle/partitioner.hpp"

namespace mpilake {

struct StringKeyHash {
  std::uint64_t operator()(std::string_view key) const { return hash_bytes(key); }
};

template <class Key, class Hash>
class KeyIndex {
 public:
  static constexpr std::int64_t kAbsent = -1;

  explicit KeyIndex(std::size_t expected_keys = 0) { rehash(capacity_for(expected_keys)); }

  // The id of `key`, adding it with the next id when new (then `second` is true). A string key is
  // kept as a view: its bytes must outlive the index.
  std::pair<std::int64_t, bool> insert(const Key& key) {
    if (2 * (keys_.size() + 1) > slots_.size()) rehash(2 * slots_.size());
    const std::uint64_t hash = Hash{}(key);
    for (std::size_t at = hash & mask_;; at = (at + 1) & mask_) {
      Slot& slot = slots_[at];
      if (slot.id == kEmpty) {
        slot = {hash, static_cast<std::uint32_t>(keys_.size())};
        keys_.push_back(key);
        return {static_cast<std::int64_t>(slot.id), true};
      }
      if (slot.hash == hash && keys_[slot.id] == key) return {static_cast<std::int64_t>(slot.id), false};
    }
  }
  // The id of `key`, or kAbsent.
  std::int64_t find(const Key& key) const {
    const std::uint64_t hash = Hash{}(key);
    for (std::size_t at = hash & mask_;; at = (at + 1) & mask_) {
      const Slot& slot = slots_[at];
      if (slot.id == kEmpty) return kAbsent;
      if (slot.hash == hash && keys_[slot.id] == key) return static_cast<std::int64_t>(slot.id);
    }
  }
  std::size_t size() const { return keys_.size(); }
  const Key& key(std::size_t id) const { return keys_[id]; }

 private:
  static constexpr std::uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t id = kEmpty;
  };
  static std::size_t capacity_for(std::size_t keys) {
    std::size_t capacity = 16;
    while (capacity < 2 * keys) capacity *= 2;
    return capacity;
  }
  void rehash(std::size_t capacity) {
    if (keys_.size() >= kEmpty) throw std::length_error("KeyIndex: more than 2^32 - 1 keys");
    std::vector<Slot> slots(capacity);
    const std::size_t mask = capacity - 1;
    for (const Slot& slot : slots_) {
      if (slot.id == kEmpty) continue;
      std::size_t at = slot.hash & mask;
      while (slots[at].id != kEmpty) at = (at + 1) & mask;
      slots[at] = slot;
    }
    slots_ = std::move(slots);
    mask_ = mask;
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::vector<Key> keys_;
};

using StringKeyIndex = KeyIndex<std::string_view, StringKeyHash>;

// Whether two string keys are equal: keys of 8 to 40 bytes (emails, serial numbers) as five
// overlapping 8-byte words inside them, inline, without a call.
inline bool same_key(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  const std::size_t length = a.size();
  if (length < 8 || length > 40) return a == b;
  std::uint64_t differ = 0;
  for (std::size_t k = 0; k < 5; ++k) {
    const std::size_t at = std::min(8 * k, length - 8);
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + at, 8);
    std::memcpy(&y, b.data() + at, 8);
    differ |= x ^ y;
  }
  return differ == 0;
}
template <class Key>
bool same_key(const Key& a, const Key& b) {
  return a == b;
}

// find() on an index, remembering the last key looked up: fact rows mostly come in runs of one key (a
// customer's readings, a device's), and comparing with the previous key costs less than hashing and
// probing. A string key is remembered as a copy (its bytes may be gone by the next lookup, e.g. in a
// reused read buffer); it is copied only when the key changes.
template <class Index, class Key>
class RunLookup {
 public:
  explicit RunLookup(const Index& index) : index_(index) {}
  std::int64_t find(const Key& key) {
    if (!has_last_ || !same_key(key, Key(last_key_))) {
      last_id_ = index_.find(key);
      last_key_ = Stored(key);
      has_last_ = true;
    }
    return last_id_;
  }

 private:
  using Stored = std::conditional_t<std::is_same_v<Key, std::string_view>, std::string, Key>;
  const Index& index_;
  Stored last_key_{};
  std::int64_t last_id_ = 0;
  bool has_last_ = false;
};
using StringRunLookup = RunLookup<StringKeyIndex, std::string_view>;

}  // namespace mpilake
