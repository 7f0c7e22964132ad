#include "mpilake/h5/zone_appender.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "mpilake/io/atomic_file.hpp"
#include "mpilake/mpi/fault.hpp"
#include "zone_datasets.hpp"

namespace mpilake {

namespace {

using namespace zone_detail;

void append_stored_bytes(const Table& rows, std::size_t column, const DictionaryColumn* dictionary, std::size_t width,
                         std::string& pending) {
  std::string packed;
  const void* values = stored_values(rows, column, dictionary, width, packed);
  pending.append(static_cast<const char*>(values), rows.num_rows() * width);
}

}  // namespace

ZoneAppender::ZoneAppender(const Comm& comm, std::filesystem::path path, Schema schema, ZoneAppendPlan plan,
                           ZoneLayout layout, std::vector<Schema> extra, std::vector<DictionaryColumn> dictionaries)
    : comm_(comm),
      path_(std::move(path)),
      temporary_(temporary_path_for(path_)),
      where_("writing '" + path_.string() + "'"),
      schema_(std::move(schema)),
      plan_(std::move(plan)),
      layout_(std::move(layout)),
      dictionaries_(std::move(dictionaries)) {
  silence_hdf5_errors();
  // The same arguments on every rank: every rank throws here alike, before any collective call.
  if (plan_.rows < 0) throw std::invalid_argument(where_ + ": the plan's row count is negative");
  columns_.resize(schema_.size());
  for (const DictionaryColumn& dictionary : dictionaries_) {
    if (dictionary.column >= schema_.size() || schema_[dictionary.column].type != ColumnType::Int64)
      throw std::invalid_argument(where_ + ": dictionary column " + std::to_string(dictionary.column) +
                                  " is not an int64 column of the zone");
    columns_[dictionary.column].dictionary = &dictionary;
  }
  for (std::size_t c = 0; c < schema_.size(); ++c) {
    Column& column = columns_[c];
    column.stored = column.dictionary != nullptr ? ColumnType::String : schema_[c].type;
    if (column.stored == ColumnType::String) {
      const auto width = plan_.string_widths.find(schema_[c].name);
      if (width == plan_.string_widths.end() || width->second == 0)
        throw std::invalid_argument(where_ + ": column '" + schema_[c].name +
                                    "' holds strings and the plan gives it no width (at least 1)");
      column.width = width->second;
    }
  }
  chunk_rows_ = std::max<std::int64_t>(1, std::min(plan_.rows, std::max<std::int64_t>(1, layout_.chunk_rows)));
  for (Schema& table_schema : extra) extra_.emplace_back(std::move(table_schema));
  extra_ranges_.resize(extra_.size());
  extra_appended_.assign(extra_.size(), 0);

  OpenZone zone = create_zone_file(comm_, temporary_, layout_, where_);
  file_ = std::move(zone.file);
  transfer_ = std::move(zone.transfer);
  try {
    for (std::size_t c = 0; c < schema_.size(); ++c) {
      Column& column = columns_[c];
      const std::string what = where_ + ": column '" + schema_[c].name + "'";
      column.type = dataset_type(column.stored, column.width, what);
      column.dataset = create_zone_dataset(file_.get(), schema_[c].name, column.type.get(), plan_.rows,
                                           column.stored == ColumnType::Int64, layout_, what);
    }
  } catch (...) {
    abandon();
    throw;
  }
}

void ZoneAppender::abandon() noexcept {
  for (Column& column : columns_) column.dataset.abandon();
  file_.abandon();
  // Rank 0 alone removes the temporary file: another rank's removal could come after rank 0 has
  // already created the next file of that name (a rerun in the same process).
  if (comm_.is_root()) {
    std::error_code ignored;
    std::filesystem::remove(temporary_, ignored);
  }
}

ZoneAppender::~ZoneAppender() {
  if (!finished_) abandon();
}

void ZoneAppender::check_usable() const {
  if (finished_) throw std::logic_error(where_ + ": the zone is already finished");
  if (spent_) throw std::logic_error(where_ + ": an earlier append or finish failed");
}

void ZoneAppender::append(const Table& rows, const std::vector<const Table*>& extra) {
  check_usable();
  try {
    std::string problem;
    if (!same_schema(rows.schema(), schema_)) problem = where_ + ": the appended rows' schema is not the zone's";
    if (problem.empty() && !extra.empty() && extra.size() != extra_.size())
      problem = where_ + ": " + std::to_string(extra.size()) + " extra tables appended, the zone has " +
                std::to_string(extra_.size());
    for (std::size_t i = 0; problem.empty() && i < extra.size(); ++i)
      if (extra[i] != nullptr && !same_schema(extra[i]->schema(), extra_[i].schema()))
        problem = where_ + ": the rows of extra table " + std::to_string(i) + " have another schema";
    for (std::size_t c = 0; problem.empty() && c < schema_.size(); ++c) {
      const Column& column = columns_[c];
      if (column.stored != ColumnType::String) continue;
      const std::string what = where_ + ": column '" + schema_[c].name + "'";
      std::size_t longest = 0;
      if (column.dictionary != nullptr)
        problem = check_dictionary_ids(rows, *column.dictionary, what, longest);
      else
        longest = rows.strings(c).max_length();
      if (problem.empty() && longest > column.width)
        problem = what + ": a value of " + std::to_string(longest) + " bytes is longer than the plan's width " +
                  std::to_string(column.width);
    }
    comm_.throw_if_any(problem);

    const auto local = static_cast<std::int64_t>(rows.num_rows());
    const std::int64_t start = appended_ + comm_.exscan_sum(local);
    const std::int64_t call_rows = comm_.allreduce_sum(local);
    if (appended_ + call_rows > plan_.rows)
      throw ConsistentError(where_ + ": " + std::to_string(appended_ + call_rows) +
                            " rows appended, more than the plan's " + std::to_string(plan_.rows));
    if (!layout_.compress) {
      // Unfiltered chunks are written through, also in part: each call's rows go straight to the file.
      const std::vector<RowRange> ranges = {{start, local}};
      for (std::size_t c = 0; c < schema_.size(); ++c) {
        Column& column = columns_[c];
        std::string packed;
        const void* values = stored_values(rows, c, column.dictionary, column.width, packed);
        write_ranges(column.dataset.get(), column.type.get(), transfer_.get(), ranges, call_rows, values,
                     where_ + ": column '" + schema_[c].name + "'");
      }
      appended_ += call_rows;
      written_ = appended_;
    } else {
      // A compressed chunk is written once, whole, in one collective call (as write_zone writes it):
      // rows past the last complete chunk wait on their ranks for the next call.
      if (local > 0) pending_ranges_.push_back({start, local});
      appended_ += call_rows;
      write_pending(appended_ / chunk_rows_ * chunk_rows_, &rows);
    }

    std::vector<std::int64_t> extra_local(extra_.size(), 0);
    for (std::size_t i = 0; i < extra.size(); ++i)
      if (extra[i] != nullptr) extra_local[i] = static_cast<std::int64_t>(extra[i]->num_rows());
    const std::vector<std::int64_t> extra_rows = comm_.allreduce_sum(extra_local);
    for (std::size_t i = 0; i < extra_.size(); ++i) {
      const std::int64_t offset = comm_.exscan_sum(extra_local[i]);
      if (extra_local[i] > 0) {
        extra_ranges_[i].push_back({extra_appended_[i] + offset, extra_local[i]});
        extra_[i].append(*extra[i]);
      }
      extra_appended_[i] += extra_rows[i];
    }
    fault_point("append", comm_);  // crash tests: die between two appends
  } catch (...) {
    spent_ = true;
    throw;
  }
}

void ZoneAppender::write_pending(std::int64_t below, const Table* rows) {
  if (below <= written_) {  // the same on every rank: all or none write
    if (rows != nullptr)
      for (std::size_t c = 0; c < schema_.size(); ++c)
        append_stored_bytes(*rows, c, columns_[c].dictionary, columns_[c].width, columns_[c].pending);
    return;
  }
  std::vector<RowRange> ranges;
  std::size_t flushed = 0;
  std::vector<Range> left;
  for (const Range& range : pending_ranges_) {
    const std::int64_t end = std::min(range.start + range.count, below);
    if (end > range.start) {
      ranges.push_back({range.start, end - range.start});
      flushed += static_cast<std::size_t>(end - range.start);
    }
    if (range.start + range.count > below) {
      const std::int64_t from = std::max(range.start, below);
      left.push_back({from, range.start + range.count - from});
    }
  }
  // Column by column, so that only one column of the call's rows is held twice at a time.
  for (std::size_t c = 0; c < schema_.size(); ++c) {
    Column& column = columns_[c];
    if (rows != nullptr) append_stored_bytes(*rows, c, column.dictionary, column.width, column.pending);
    write_ranges(column.dataset.get(), column.type.get(), transfer_.get(), ranges, below - written_,
                 column.pending.data(), where_ + ": column '" + schema_[c].name + "'");
    column.pending.erase(0, flushed * column.width);
  }
  pending_ranges_ = std::move(left);
  written_ = below;
}

ZoneWriteResult ZoneAppender::finish(const std::vector<Attribute>& attributes) {
  check_usable();
  try {
    if (appended_ != plan_.rows)
      throw ConsistentError(where_ + ": " + std::to_string(appended_) + " rows appended, the plan has " +
                            std::to_string(plan_.rows));
    if (layout_.compress) write_pending(appended_, nullptr);

    ZoneWriteResult result;
    result.rows = appended_;
    std::int64_t datasets = static_cast<std::int64_t>(schema_.size()), done = 0;
    for (const Table& table : extra_) datasets += static_cast<std::int64_t>(table.num_columns());
    const auto wrote_one = [&] {
      if (layout_.on_column) layout_.on_column(++done, datasets);
    };
    std::vector<std::string> column_names;
    for (std::size_t c = 0; c < schema_.size(); ++c) {
      column_names.push_back(schema_[c].name);
      result.bytes += plan_.rows * static_cast<std::int64_t>(columns_[c].width);
      columns_[c].dataset.close(where_ + ": column '" + schema_[c].name + "': close");
      wrote_one();
    }
    fault_point("write", comm_);  // crash tests: die with the zone half-written
    for (std::size_t i = 0; i < extra_.size(); ++i) {
      std::vector<RowRange> placement;
      for (const Range& range : extra_ranges_[i]) placement.push_back({range.start, range.count});
      for (std::size_t c = 0; c < extra_[i].num_columns(); ++c) {
        result.bytes +=
            write_column(comm_, file_.get(), transfer_.get(), extra_[i], c, layout_, where_, nullptr, &placement);
        wrote_one();
      }
    }
    write_root_attributes(file_.get(), attributes, result.rows, column_names);
    file_.close(where_ + ": close");
    publish(comm_, temporary_, path_, where_);
    finished_ = true;
    return result;
  } catch (...) {
    spent_ = true;
    throw;
  }
}

}  // namespace mpilake
