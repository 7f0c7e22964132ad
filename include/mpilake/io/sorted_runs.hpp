#pragma once
// Rows collected in any order and read back sorted, within a memory budget: an external merge sort.
// Without a scratch folder the rows stay in memory and are sorted once at the end. With one, the rows
// in memory are sorted and written as a sorted run (a spill file, io/spill_file.hpp) each time they
// pass the budget; at the end the runs are merged, kFanIn at a time, until one merge of what is left
// and the rows still in memory gives the order. Equal rows come back in the order they were added.
//
// The quarantine of a budgeted run uses it (a dump of mostly bad lines has more rejects than memory).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mpilake/io/spill_file.hpp"
#include "mpilake/table/row_less.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

class SortedRuns {
 public:
  // Runs merged at once: the files open and the blocks in memory while merging.
  static constexpr std::size_t kFanIn = 64;
  // A run's blocks hold about this many bytes (a merge holds one block per run).
  static constexpr std::size_t kBlockBytes = std::size_t{64} << 10;

  // In memory when `folder` is null. Otherwise the rows in memory are spilled as a run into
  // folder->file(name + "-run-K") once their bytes (Table::byte_size) reach `memory_bytes` (at least
  // one row per run). The folder must outlive this object.
  SortedRuns(Schema schema, RowLess less, ScratchFolder* folder, std::string name, std::size_t memory_bytes);
  ~SortedRuns();  // removes its spill files
  SortedRuns(const SortedRuns&) = delete;
  SortedRuns& operator=(const SortedRuns&) = delete;

  // The rows in memory: append here, then call after_append().
  Table& tail() { return tail_; }
  // Spills the tail as a sorted run once it is over the budget. Throws the spill file's errors (a full
  // scratch disk: "scratch disk full: ..."), on this rank only.
  void after_append();

  std::int64_t rows() const { return spilled_rows_ + static_cast<std::int64_t>(tail_.num_rows()); }
  // Runs written so far, the merges' runs included.
  std::int64_t runs_written() const { return runs_written_; }

  // No more rows: sorts the rows in memory and merges runs until at most kFanIn - 1 are left. Throws
  // the spill files' errors, on this rank only.
  void finish();
  // After finish(): replaces `chunk` with the next `count` rows in order (fewer only at the end).
  // Throws the spill files' errors ("corrupt spill file ..."), on this rank only.
  void next(std::size_t count, Table& chunk);

 private:
  struct Run;
  class Merge;
  void spill_tail();
  std::filesystem::path new_run_path();

  Table tail_;
  RowLess less_;
  ScratchFolder* folder_;
  std::string name_;
  std::size_t memory_bytes_;
  std::vector<std::filesystem::path> runs_;  // oldest first: ties between runs go to the older one
  std::int64_t spilled_rows_ = 0;
  std::int64_t runs_written_ = 0;
  std::vector<std::size_t> tail_order_;  // after finish(): the tail's rows in order
  std::unique_ptr<Merge> reading_;       // after finish()
  bool finished_ = false;
};

}  // namespace mpilake
