// KeyIndex against std::unordered_map on random keys: ids are dense, in insertion order, stable
// across growth, and absent keys are reported absent.
#include "mpilake/table/key_index.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

namespace mpilake {
namespace {

TEST(KeyIndex, AgreesWithUnorderedMap) {
  std::mt19937_64 random(11);
  std::vector<std::string> storage;
  for (int i = 0; i < 20000; ++i) {
    std::string key(random() % 12, 'a');
    for (auto& c : key) c = static_cast<char>('a' + random() % 4);  // small alphabet: many repeats
    storage.push_back(key);
  }
  StringKeyIndex index;  // starts small: must grow many times
  std::unordered_map<std::string, std::int64_t> reference;
  for (const auto& key : storage) {
    const auto [id, added] = index.insert(key);
    const auto [it, inserted] = reference.try_emplace(key, static_cast<std::int64_t>(reference.size()));
    ASSERT_EQ(added, inserted) << key;
    ASSERT_EQ(id, it->second) << key;
  }
  ASSERT_EQ(index.size(), reference.size());
  for (const auto& [key, id] : reference) {
    EXPECT_EQ(index.find(key), id);
    EXPECT_EQ(index.key(static_cast<std::size_t>(id)), key);
  }
  EXPECT_EQ(index.find("zzzz"), StringKeyIndex::kAbsent);
  EXPECT_EQ(index.find(std::string("a\0b", 3)), StringKeyIndex::kAbsent);
}

}  // namespace
}  // namespace mpilake
