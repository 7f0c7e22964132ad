#include "mpilake/io/sorted_runs.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace mpilake {

namespace {

// This rank's rows of `rows` in order, equal rows in the order they were added.
std::vector<std::size_t> sorted_order(const Table& rows, const RowLess& less) {
  std::vector<std::size_t> order(rows.num_rows());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return less(rows, a, rows, b); });
  return order;
}

// Rows per run block so that a block of rows like `sample`'s holds about SortedRuns::kBlockBytes.
std::size_t block_rows_like(const Table& sample) {
  const std::size_t row_bytes =
      std::max<std::size_t>(1, sample.byte_size() / std::max<std::size_t>(1, sample.num_rows()));
  return std::max<std::size_t>(16, SortedRuns::kBlockBytes / row_bytes);
}

}  // namespace

// A run read back a block at a time.
struct SortedRuns::Run {
  Run(const std::filesystem::path& path, const Schema& schema) : reader(path, schema), block(schema) {}
  // Moves to a block with a row at `at`; false at the end of the run.
  bool fill() {
    while (at >= block.num_rows()) {
      if (!reader.next(block)) return false;
      at = 0;
    }
    return true;
  }
  SpillReader reader;
  Table block;
  std::size_t at = 0;
};

// A k-way merge of runs (oldest first) and, last, rows in memory in a given order. A binary heap of
// the sources with rows left; ties go to the earlier source, which keeps the order stable.
class SortedRuns::Merge {
 public:
  Merge(const std::vector<std::filesystem::path>& runs, const Schema& schema, const RowLess& less,
        const Table* memory = nullptr, const std::vector<std::size_t>* memory_order = nullptr)
      : less_(less), memory_(memory), memory_order_(memory_order) {
    for (const auto& path : runs) runs_.push_back(std::make_unique<Run>(path, schema));
    for (std::size_t s = 0; s < sources(); ++s)
      if (has_row(s)) heap_.push_back(s);
    std::make_heap(heap_.begin(), heap_.end(), [this](std::size_t a, std::size_t b) { return after(a, b); });
  }

  // Appends up to `count` of the next rows to `out`; returns how many.
  std::size_t take(std::size_t count, Table& out) {
    std::size_t taken = 0;
    const auto order = [this](std::size_t a, std::size_t b) { return after(a, b); };
    for (; taken < count && !heap_.empty(); ++taken) {
      std::pop_heap(heap_.begin(), heap_.end(), order);
      const std::size_t s = heap_.back();
      out.append_row(table(s), row(s));
      advance(s);
      if (has_row(s))
        std::push_heap(heap_.begin(), heap_.end(), order);
      else
        heap_.pop_back();
    }
    return taken;
  }

 private:
  std::size_t sources() const { return runs_.size() + (memory_ != nullptr ? 1 : 0); }
  bool is_memory(std::size_t s) const { return s == runs_.size(); }
  bool has_row(std::size_t s) { return is_memory(s) ? memory_at_ < memory_order_->size() : runs_[s]->fill(); }
  const Table& table(std::size_t s) const { return is_memory(s) ? *memory_ : runs_[s]->block; }
  std::size_t row(std::size_t s) const { return is_memory(s) ? (*memory_order_)[memory_at_] : runs_[s]->at; }
  void advance(std::size_t s) {
    if (is_memory(s))
      ++memory_at_;
    else
      ++runs_[s]->at;
  }
  // The heap's order: true when source a's row comes after source b's (the heap's top comes first).
  bool after(std::size_t a, std::size_t b) const {
    if (less_(table(b), row(b), table(a), row(a))) return true;
    if (less_(table(a), row(a), table(b), row(b))) return false;
    return a > b;
  }

  const RowLess& less_;
  std::vector<std::unique_ptr<Run>> runs_;
  const Table* memory_;
  const std::vector<std::size_t>* memory_order_;
  std::size_t memory_at_ = 0;
  std::vector<std::size_t> heap_;
};

SortedRuns::SortedRuns(Schema schema, RowLess less, ScratchFolder* folder, std::string name, std::size_t memory_bytes)
    : tail_(std::move(schema)),
      less_(std::move(less)),
      folder_(folder),
      name_(std::move(name)),
      memory_bytes_(memory_bytes) {}

SortedRuns::~SortedRuns() {
  reading_.reset();  // closes the files before they go
  std::error_code ignored;
  for (const auto& path : runs_) std::filesystem::remove(path, ignored);
}

std::filesystem::path SortedRuns::new_run_path() {
  return folder_->file(name_ + "-run-" + std::to_string(runs_written_++));
}

void SortedRuns::after_append() {
  if (finished_) throw std::logic_error("SortedRuns: rows added after finish()");
  if (folder_ != nullptr && tail_.num_rows() > 0 && tail_.byte_size() >= memory_bytes_) spill_tail();
}

// Sorts the rows in memory and writes them as a new run, in blocks of about kBlockBytes.
void SortedRuns::spill_tail() {
  const std::vector<std::size_t> order = sorted_order(tail_, less_);
  const std::size_t block_rows = block_rows_like(tail_);
  runs_.push_back(new_run_path());  // listed first, so that a failed write's file goes too
  SpillWriter writer(*folder_, runs_.back().filename().string(), tail_.schema());
  for (std::size_t at = 0; at < order.size(); at += block_rows) {
    const std::size_t end = std::min(order.size(), at + block_rows);
    writer.append(tail_.take(std::span<const std::size_t>(order).subspan(at, end - at)));
  }
  writer.close();
  spilled_rows_ += static_cast<std::int64_t>(tail_.num_rows());
  tail_.truncate_rows(0);
}

void SortedRuns::finish() {
  if (finished_) return;
  finished_ = true;
  // Merge the oldest kFanIn runs into one until the last merge (the runs left and the rows in memory)
  // has at most kFanIn sources. The merged run takes its inputs' place, first, so ties stay stable.
  while (runs_.size() >= kFanIn) {
    const std::vector<std::filesystem::path> group(runs_.begin(), runs_.begin() + kFanIn);
    const std::filesystem::path merged = new_run_path();
    runs_.insert(runs_.begin() + kFanIn, merged);  // listed at once, so that a failed write's file goes too
    {
      Merge merge(group, tail_.schema(), less_);
      SpillWriter writer(*folder_, merged.filename().string(), tail_.schema());
      Table block(tail_.schema());
      // Blocks of about kBlockBytes: the row size is known from the first block.
      std::size_t block_rows = 16;
      while (merge.take(block_rows, block) > 0) {
        block_rows = block_rows_like(block);
        writer.append(block);
        block.truncate_rows(0);
      }
      writer.close();
    }
    std::error_code ignored;
    for (const auto& path : group) std::filesystem::remove(path, ignored);
    runs_.erase(runs_.begin(), runs_.begin() + kFanIn);
  }
  tail_order_ = sorted_order(tail_, less_);
  reading_ = std::make_unique<Merge>(runs_, tail_.schema(), less_, &tail_, &tail_order_);
}

void SortedRuns::next(std::size_t count, Table& chunk) {
  if (!finished_) throw std::logic_error("SortedRuns: rows read before finish()");
  if (same_schema(chunk.schema(), tail_.schema()))
    chunk.truncate_rows(0);
  else
    chunk = Table(tail_.schema());
  reading_->take(count, chunk);
}

}  // namespace mpilake
