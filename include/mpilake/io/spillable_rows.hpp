#pragma once
// Rows that a run collects (e.g. the kept rows of a filtered fact source), held in memory or, when the
// run has a memory budget, spilled to a checksummed file in blocks of a fixed row count as they come.
// The code that fills and reads them is the same either way: append to tail(), call
// after_append(), close(), then visit the blocks in order.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mpilake/io/spill_file.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

class SpillableRows {
 public:
  // In memory when `folder` is null; otherwise spilled to folder->file(name) in blocks of
  // `block_rows` rows (at least 1). The folder must outlive this object.
  SpillableRows(Schema schema, ScratchFolder* folder, const std::string& name, std::size_t block_rows);

  bool spilling() const { return writer_ != nullptr; }
  // The rows not spilled yet (in memory: all of them): append here.
  Table& tail() { return tail_; }
  const Table& tail() const { return tail_; }
  // Spills the tail as one block once it holds block_rows rows or more (in memory: nothing).
  void after_append();
  // No more rows: spills what is left and closes the file (its errors are thrown here).
  void close();

  std::int64_t rows() const { return spilled_rows_ + static_cast<std::int64_t>(tail_.num_rows()); }
  // Blocks visit() gives (in memory: 1).
  std::int64_t blocks() const;
  std::int64_t bytes_spilled() const;

  // After close(): the blocks in append order; in memory, one block with all rows. A spilled block is
  // read into one reused table, valid until the next call. Reading errors (a corrupt or missing file)
  // are thrown from next(), on this rank only: a caller between collectives catches them and makes
  // them every rank's (Comm::throw_if_any).
  class Blocks {
   public:
    explicit Blocks(const SpillableRows& rows);
    // The next block, or null after the last.
    const Table* next();

   private:
    const SpillableRows& rows_;
    std::unique_ptr<SpillReader> reader_;
    Table block_;
    bool done_ = false;
  };
  Blocks blocks_in_order() const { return Blocks(*this); }
  // Calls `visit(block)` for each block, as Blocks gives them.
  void visit(const std::function<void(const Table& block)>& visit) const;
  // All rows in one table (for rows sized to fit, e.g. one pass's partition).
  Table all_rows() const;
  // Done with the rows: removes the spill file (scratch space comes back at once) and the tail.
  void discard();

 private:
  Table tail_;
  std::unique_ptr<SpillWriter> writer_;
  std::size_t block_rows_ = 1;
  std::int64_t spilled_rows_ = 0;
  bool closed_ = false;
};

}  // namespace mpilake
