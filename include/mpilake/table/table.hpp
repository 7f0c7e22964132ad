#pragma once
// Columnar in-memory table: int64 / float64 columns and strings stored as offsets + bytes.
// NULL conventions follow the HDF5 contract: INT64_MIN for integers, the empty string for strings.
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mpilake {

inline constexpr std::int64_t kNullInt64 = std::numeric_limits<std::int64_t>::min();

enum class ColumnType { Int64, Float64, String };

struct ColumnSpec {
  std::string name;
  ColumnType type;
};

using Schema = std::vector<ColumnSpec>;

class StringColumn {
 public:
  void push_back(std::string_view value) {
    bytes_.append(value);
    offsets_.push_back(bytes_.size());
  }
  std::string_view operator[](std::size_t row) const {
    return std::string_view(bytes_).substr(offsets_[row], offsets_[row + 1] - offsets_[row]);
  }
  std::size_t size() const { return offsets_.size() - 1; }
  std::size_t byte_size() const { return bytes_.size(); }
  std::size_t max_length() const;
  // Room for `rows` rows and `bytes` bytes; large buffers get huge pages (util/huge_pages.hpp).
  void reserve(std::size_t rows, std::size_t bytes);
  void clear() {
    offsets_.assign(1, 0);
    bytes_.clear();
  }
  // Bulk fill (the shuffle decodes straight into place): grows to `rows` rows and `bytes` bytes;
  // the caller then writes each row's bytes and sets end_offsets()[row] to where that row ends.
  void resize_for_fill(std::size_t rows, std::size_t bytes) {
    offsets_.resize(rows + 1);
    bytes_.resize(bytes);
  }
  std::uint64_t* end_offsets() { return offsets_.data() + 1; }
  const std::uint64_t* end_offsets() const { return offsets_.data() + 1; }
  // Keeps only `rows` (ascending), in place.
  void keep(std::span<const std::size_t> rows);
  // Keeps the first `rows` rows (rows <= size()).
  void truncate(std::size_t rows) {
    offsets_.resize(rows + 1);
    bytes_.resize(offsets_.back());
  }
  char* byte_data() { return bytes_.data(); }
  const char* byte_data() const { return bytes_.data(); }

 private:
  std::vector<std::uint64_t> offsets_{0};
  std::string bytes_;
};

using ColumnData = std::variant<std::vector<std::int64_t>, std::vector<double>, StringColumn>;

class Table {
 public:
  Table() = default;
  explicit Table(Schema schema);

  const Schema& schema() const { return schema_; }
  std::size_t num_columns() const { return schema_.size(); }
  std::size_t num_rows() const { return rows_; }
  // Index of the column called `name`; throws if absent.
  std::size_t column_index(std::string_view name) const;

  std::vector<std::int64_t>& ints(std::size_t column) { return std::get<0>(columns_[column]); }
  const std::vector<std::int64_t>& ints(std::size_t column) const { return std::get<0>(columns_[column]); }
  std::vector<double>& floats(std::size_t column) { return std::get<1>(columns_[column]); }
  const std::vector<double>& floats(std::size_t column) const { return std::get<1>(columns_[column]); }
  StringColumn& strings(std::size_t column) { return std::get<2>(columns_[column]); }
  const StringColumn& strings(std::size_t column) const { return std::get<2>(columns_[column]); }
  const ColumnData& column(std::size_t column) const { return columns_[column]; }
  ColumnData& column(std::size_t column) { return columns_[column]; }

  // Call after appending one value to every column by hand.
  void commit_row() { ++rows_; }
  // Sets the row count after columns were filled in bulk; checks every column has that length.
  void set_rows_from_columns();

  // Appends row `row` of `source`, whose schema must equal this one.
  void append_row(const Table& source, std::size_t row);
  // Appends one value to `column` from `source` (column `source_column`, row `row`); call
  // commit_row() once every column has its value.
  void append_cell(std::size_t column, const Table& source, std::size_t source_column, std::size_t row);
  // New table with the given rows of this one, in that order.
  Table take(std::span<const std::size_t> rows) const;
  // Keeps only `rows` (strictly ascending), in place: a filter that allocates nothing.
  void keep_rows(std::span<const std::size_t> rows);
  // Keeps the first `rows` rows (rows <= num_rows()): drops rows appended since.
  void truncate_rows(std::size_t rows);
  // Room for `rows` rows in every column (string columns: their offsets; the bytes grow as needed).
  // Large columns get huge pages (util/huge_pages.hpp).
  void reserve_rows(std::size_t rows);
  // Appends all rows of `other` (same schema).
  void append(const Table& other);

  // Total payload bytes (for statistics).
  std::size_t byte_size() const;

 private:
  Schema schema_;
  std::vector<ColumnData> columns_;
  std::size_t rows_ = 0;
};

bool same_schema(const Schema& a, const Schema& b);
std::string_view column_type_name(ColumnType type);

}  // namespace mpilake
