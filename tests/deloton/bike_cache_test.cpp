#include "mpilake/deloton/bike_cache.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using mpilake::deloton::BikeIdCache;

// The cache gives the ids the lookup gives, on random bike names of every length around kMaxBike,
// names that share most bytes (the feed's "lomos v5"/"lomos v9"), and names with NUL bytes.
TEST(DelotonBikeIdCache, GivesTheLookupsIds) {
  std::mt19937_64 random(21);
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) {
    const std::size_t length = 1 + random() % (BikeIdCache::kMaxBike + 6);
    std::string name(length, 'a');
    for (char& c : name) c = static_cast<char>(random() % 4 == 0 ? "\0v 9"[random() % 4] : 'a' + random() % 3);
    names.push_back(name);
  }
  for (int i = 0; i < 10; ++i) names.push_back("lomos v" + std::to_string(i));
  names.push_back("");
  std::map<std::string, std::uint32_t> ids;  // the reference: a new id per new name
  std::size_t lookups = 0;
  const auto lookup = [&](std::string_view bike) {
    ++lookups;
    return ids.emplace(std::string(bike), static_cast<std::uint32_t>(ids.size())).first->second;
  };
  BikeIdCache cache;
  std::map<std::string, std::uint32_t> seen;
  for (int i = 0; i < 200000; ++i) {
    // Mostly a few recent bikes, as a stream's lines are, sometimes any.
    const std::size_t pick = random() % 8 == 0 ? random() % names.size() : names.size() - 11 + random() % 11;
    const std::string& name = names[pick];
    const std::uint32_t id = cache.id(name, lookup);
    ASSERT_EQ(id, ids.at(name)) << "name " << pick;
    seen[name] = id;
  }
  EXPECT_GT(cache.hits(), 100000u);
  EXPECT_LT(lookups, 200000u - cache.hits() + 1);
  EXPECT_EQ(seen.size(), ids.size());
}

TEST(DelotonBikeIdCache, ClearForgets) {
  BikeIdCache cache;
  std::uint32_t next = 0;
  const auto lookup = [&](std::string_view) { return next; };
  EXPECT_EQ(cache.id("lomos v5", lookup), 0u);
  next = 7;
  EXPECT_EQ(cache.id("lomos v5", lookup), 0u);  // cached
  cache.clear();
  EXPECT_EQ(cache.id("lomos v5", lookup), 7u);
}

}  // namespace
