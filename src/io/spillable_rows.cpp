#include "mpilake/io/spillable_rows.hpp"

#include <algorithm>
#include <stdexcept>

namespace mpilake {

SpillableRows::SpillableRows(Schema schema, ScratchFolder* folder, const std::string& name, std::size_t block_rows)
    : tail_(schema), block_rows_(std::max<std::size_t>(1, block_rows)) {
  if (folder != nullptr) writer_ = std::make_unique<SpillWriter>(*folder, name, std::move(schema));
}

void SpillableRows::after_append() {
  if (!writer_ || tail_.num_rows() < block_rows_) return;
  writer_->append(tail_);
  spilled_rows_ += static_cast<std::int64_t>(tail_.num_rows());
  tail_.truncate_rows(0);
}

void SpillableRows::close() {
  if (closed_) return;
  closed_ = true;
  if (!writer_) return;
  if (tail_.num_rows() > 0 || writer_->blocks() == 0) {
    writer_->append(tail_);
    spilled_rows_ += static_cast<std::int64_t>(tail_.num_rows());
  }
  tail_ = Table(tail_.schema());  // gives its memory back
  writer_->close();
}

std::int64_t SpillableRows::blocks() const {
  return writer_ ? writer_->blocks() : 1;
}

std::int64_t SpillableRows::bytes_spilled() const {
  return writer_ ? writer_->bytes() : 0;
}

SpillableRows::Blocks::Blocks(const SpillableRows& rows) : rows_(rows) {
  if (!rows.closed_) throw std::logic_error("SpillableRows: blocks read before close()");
}

const Table* SpillableRows::Blocks::next() {
  if (done_) return nullptr;
  if (!rows_.writer_) {
    done_ = true;
    return &rows_.tail_;
  }
  if (!reader_) {
    reader_ = std::make_unique<SpillReader>(rows_.writer_->path(), rows_.tail_.schema());
    block_ = Table(rows_.tail_.schema());
  }
  if (reader_->next(block_)) return &block_;
  done_ = true;
  reader_.reset();
  return nullptr;
}

void SpillableRows::visit(const std::function<void(const Table& block)>& visit) const {
  Blocks blocks(*this);
  while (const Table* block = blocks.next()) visit(*block);
}

Table SpillableRows::all_rows() const {
  if (!writer_ && closed_) return tail_;
  Table all(tail_.schema());
  all.reserve_rows(static_cast<std::size_t>(rows()));
  visit([&](const Table& block) { all.append(block); });
  return all;
}

void SpillableRows::discard() {
  tail_ = Table(tail_.schema());
  if (!writer_) return;
  writer_->close();
  std::error_code ignored;
  std::filesystem::remove(writer_->path(), ignored);
}

}  // namespace mpilake
