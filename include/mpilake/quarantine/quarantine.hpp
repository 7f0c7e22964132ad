#pragma once
// Rejected landing lines with where they came from and why. Kept as a Table so it travels and is
// written by the same engine parts as any zone.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mpilake/h5/zone_writer.hpp"
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

// Collective: writes every rank's records sorted by (source, file, offset) as JSON Lines (one object
// per reject, readable by a person and by tools) to `jsonl_path`, and as an HDF5 zone (columns as
// schema(), root attributes `attributes` then rows and columns) to `h5_path`, each under a temporary
// name renamed at the end. Rank 0 writes them from a streaming merge of the ranks' sorted records
// (shuffle/merge_to_root.hpp), so it never holds all of them. Returns the records of all ranks.
std::int64_t write_quarantine(const Comm& comm, const Quarantine& quarantine, const std::filesystem::path& jsonl_path,
                              const std::filesystem::path& h5_path, const std::vector<Attribute>& attributes);

}  // namespace mpilake
