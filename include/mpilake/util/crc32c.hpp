#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, as in iSCSI, ext4 and RocksDB): the checksum
// of spill-file blocks. Uses the SSE4.2 crc32 instruction when the build targets it (the default
// -march=haswell does), a byte table otherwise; both give the same value.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mpilake {

// Extends `crc` (0 for a new checksum) over `size` bytes at `data`: crc32c(crc32c(0, a), b) equals
// crc32c(0, a + b). crc32c(0, "123456789") is 0xE3069283.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size);
inline std::uint32_t crc32c(std::string_view bytes) {
  return crc32c(0, bytes.data(), bytes.size());
}

// The byte-table version, always available (the tests compare it with crc32c).
std::uint32_t crc32c_portable(std::uint32_t crc, const void* data, std::size_t size);

}  // namespace mpilake
