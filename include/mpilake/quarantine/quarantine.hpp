#pragma once
// Rejected landing lines with where they came from and why. Kept as a Table so it travels and is
// written by the same engine parts as any zone.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mpilake/h5/zone_writer.hpp"
#include "mpilake/io/sorted_runs.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

class Quarantine {
 public:
  static constexpr std::size_t kRawPrefixBytes = 256;  // how much of the bad line is kept
  // A budgeted run's records in memory before they spill (about 12 k records; part of the pipelines'
  // fixed overhead). Reading them back merges at most SortedRuns::kFanIn runs of 64 KB blocks.
  static constexpr std::size_t kSpillMemoryBytes = std::size_t{4} << 20;
  Quarantine();
  // Budgeted runs: the records are kept in sorted runs (io/sorted_runs.hpp), spilled into `folder`
  // whenever those in memory reach `memory_bytes`, so that a dump of mostly bad lines keeps to the
  // budget. Call before the first add(); the folder must outlive this object.
  void spill_to(ScratchFolder& folder, std::size_t memory_bytes = kSpillMemoryBytes);

  // Never throws a spill error: the first one is kept in spill_error() and the records after it are
  // dropped (the run must stop: raise it on every rank with Comm::throw_if_any).
  void add(std::string_view source, std::string_view file, std::int64_t byte_offset, std::string_view reason,
           std::string_view raw_line);
  std::int64_t rows() const { return records_->rows(); }
  // Sorted runs written to the scratch folder so far (0 in memory).
  std::int64_t runs_spilled() const { return records_->runs_written(); }
  const std::string& spill_error() const { return spill_error_; }
  static Schema schema();

 private:
  friend std::int64_t write_quarantine(const Comm&, Quarantine&, const std::filesystem::path&,
                                       const std::filesystem::path&, const std::vector<Attribute>&);
  std::unique_ptr<SortedRuns> records_;
  std::vector<std::size_t> longest_;  // per column, the longest string so far (0 for the offset)
  std::string spill_error_;
};

// Collective: writes every rank's records sorted by (source, file, offset) as JSON Lines (one object
// per reject, readable by a person and by tools) to `jsonl_path`, and as an HDF5 zone (columns as
// schema(), root attributes `attributes` then rows and columns) to `h5_path`, each under a temporary
// name renamed at the end. Each rank reads its records back in order (merged from its sorted runs when
// they spilled) and rank 0 writes them from a streaming merge of the ranks' records
// (shuffle/merge_to_root.hpp), so no rank holds all of them. Throws a spill error of any rank's
// quarantine (spill_error(), or reading the runs back) on every rank. Returns the records of all ranks.
std::int64_t write_quarantine(const Comm& comm, Quarantine& quarantine, const std::filesystem::path& jsonl_path,
                              const std::filesystem::path& h5_path, const std::vector<Attribute>& attributes);

}  // namespace mpilake
