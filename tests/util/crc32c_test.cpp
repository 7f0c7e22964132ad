// CRC-32C against published check values and a bit-at-a-time reference written here.
#include "mpilake/util/crc32c.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace mpilake {
namespace {

// The definition itself: reflected CRC with polynomial 0x82F63B78, one bit per step.
std::uint32_t crc32c_by_bits(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

TEST(Crc32c, PublishedCheckValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the CRC catalogue's check value
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);    // RFC 3720 B.4: 32 bytes of zeros
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);  // RFC 3720 B.4: 32 bytes of 0xFF
  EXPECT_EQ(crc32c_portable(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32c, MatchesTheBitwiseDefinitionAndChains) {
  std::mt19937_64 random(7);
  for (int round = 0; round < 200; ++round) {
    std::string bytes(random() % 300, '\0');
    for (auto& c : bytes) c = static_cast<char>(random());
    const std::uint32_t expected = crc32c_by_bits(bytes);
    EXPECT_EQ(crc32c(bytes), expected) << bytes.size();
    EXPECT_EQ(crc32c_portable(0, bytes.data(), bytes.size()), expected);
    const std::size_t cut = bytes.empty() ? 0 : random() % bytes.size();
    EXPECT_EQ(crc32c(crc32c(0, bytes.data(), cut), bytes.data() + cut, bytes.size() - cut), expected);
  }
}

}  // namespace
}  // namespace mpilake
