// The hash partitioner: in range, a pure function of the key, and close to uniform.
#include "mpilake/shuffle/partitioner.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace mpilake {
namespace {

TEST(Partitioner, StaysInRangeForEveryPartCount) {
  for (int parts = 1; parts <= 17; ++parts)
    for (std::uint64_t h :
         {std::uint64_t{0}, std::uint64_t{1}, ~std::uint64_t{0}, std::uint64_t{1} << 63, mix64(12345)}) {
      const int p = partition_for(h, parts);
      EXPECT_GE(p, 0);
      EXPECT_LT(p, parts);
    }
}

TEST(Partitioner, EqualKeysGoToTheSamePart) {
  const std::string a = "Santosh.Clayton@test.com";
  const std::string b(a);  // a different buffer with the same bytes
  EXPECT_EQ(hash_bytes(a), hash_bytes(b));
  EXPECT_NE(hash_bytes(a), hash_bytes("Santosh.Clayton@test.con"));
  EXPECT_EQ(partition_for(hash_bytes(a), 4), partition_for(hash_bytes(b), 4));
}

// Chi-square test of e-mail-like keys over 8 parts: a bad mix (e.g. using only low bits of an
// unmixed FNV hash of similar strings) fails it by orders of magnitude.
TEST(Partitioner, SpreadsSimilarKeysEvenly) {
  for (int parts : {2, 3, 8}) {
    std::vector<double> counts(static_cast<std::size_t>(parts), 0);
    const int keys = 80000;
    for (int i = 0; i < keys; ++i) ++counts[partition_for(hash_bytes("user" + std::to_string(i) + "@test.com"), parts)];
    for (int i = 0; i < keys; ++i) ++counts[partition_for(hash_int64(1655564376361 + i), parts)];
    const double expected = 2.0 * keys / parts;
    double chi_square = 0;
    for (double c : counts) chi_square += (c - expected) * (c - expected) / expected;
    // 99.9th percentile of chi-square with 7 degrees of freedom is 24.3.
    EXPECT_LT(chi_square, 25.0) << parts << " parts";
  }
}

TEST(Partitioner, PartitionRowsUsesTheRowHash) {
  const auto destination =
      partition_rows(100, 4, [](std::size_t r) { return hash_int64(static_cast<std::int64_t>(r)); });
  ASSERT_EQ(destination.size(), 100u);
  for (std::size_t r = 0; r < 100; ++r)
    EXPECT_EQ(destination[r], partition_for(hash_int64(static_cast<std::int64_t>(r)), 4));
}

}  // namespace
}  // namespace mpilake
