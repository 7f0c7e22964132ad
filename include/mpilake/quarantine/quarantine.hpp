#pragma once
// Rejected landing lines with where they came from and why. Kept as a Table so it travels and is
// written by the same engine parts as any zone.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "mpilake/mpi/comm.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

class Quarantine {
 public:
  static constexpr std::size_t kRawPrefixBytes = 256;  // how much of the bad line is kept
  Quarantine();
  void add(std::string_view source, std::string_view file, std::int64_t byte_offset, std::string_view reason,
           std::string_view raw_line);
  const Table& records() const { return records_; }
  static Schema schema();

 private:
  Table records_;
};

// Gathers every rank's records on rank 0, sorts them by (source, file, offset) and writes them as JSON
// Lines (one object per reject, readable by a person and by tools) to `path`, via a temporary name.
// Returns the gathered table on rank 0 (empty elsewhere), for the HDF5 copy.
Table write_quarantine_jsonl(const Comm& comm, const Quarantine& quarantine, const std::filesystem::path& path);

}  // namespace mpilake
