#include "mpilake/table/table.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "mpilake/util/huge_pages.hpp"

namespace mpilake {

std::size_t StringColumn::max_length() const {
  std::size_t longest = 0;
  for (std::size_t i = 0; i + 1 < offsets_.size(); ++i)
    longest = std::max<std::size_t>(longest, offsets_[i + 1] - offsets_[i]);
  return longest;
}

void StringColumn::keep(std::span<const std::size_t> rows) {
  // Rows only move towards the front, so each move reads bytes not yet overwritten.
  std::uint64_t end = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::uint64_t begin = offsets_[rows[i]], length = offsets_[rows[i] + 1] - begin;
    if (begin != end) std::memmove(bytes_.data() + end, bytes_.data() + begin, length);
    end += length;
    offsets_[i + 1] = end;
  }
  offsets_.resize(rows.size() + 1);
  bytes_.resize(end);
}

Table::Table(Schema schema) : schema_(std::move(schema)) {
  columns_.reserve(schema_.size());
  for (const auto& spec : schema_) {
    switch (spec.type) {
      case ColumnType::Int64: columns_.emplace_back(std::vector<std::int64_t>{}); break;
      case ColumnType::Float64: columns_.emplace_back(std::vector<double>{}); break;
      case ColumnType::String: columns_.emplace_back(StringColumn{}); break;
    }
  }
}

std::size_t Table::column_index(std::string_view name) const {
  for (std::size_t i = 0; i < schema_.size(); ++i)
    if (schema_[i].name == name) return i;
  throw std::invalid_argument("table has no column '" + std::string(name) + "'");
}

void Table::set_rows_from_columns() {
  std::size_t rows = 0;
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    const std::size_t length = std::visit([](const auto& col) -> std::size_t { return col.size(); }, columns_[c]);
    if (c == 0) rows = length;
    if (length != rows) throw std::logic_error("table columns have different lengths");
  }
  rows_ = rows;
}

void Table::append_row(const Table& source, std::size_t row) {
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    std::visit(
        [&](auto& target) {
          using T = std::decay_t<decltype(target)>;
          target.push_back(std::get<T>(source.columns_[c])[row]);
        },
        columns_[c]);
  }
  ++rows_;
}

void Table::append_cell(std::size_t column, const Table& source, std::size_t source_column, std::size_t row) {
  std::visit(
      [&](auto& target) {
        using T = std::decay_t<decltype(target)>;
        target.push_back(std::get<T>(source.columns_[source_column])[row]);
      },
      columns_[column]);
}

Table Table::take(std::span<const std::size_t> rows) const {
  Table result(schema_);
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    std::visit(
        [&](auto& target) {
          using T = std::decay_t<decltype(target)>;
          const auto& source = std::get<T>(columns_[c]);
          if constexpr (std::is_same_v<T, StringColumn>) {
            for (auto r : rows) target.push_back(source[r]);
          } else {
            target.reserve(rows.size());
            for (auto r : rows) target.push_back(source[r]);
          }
        },
        result.columns_[c]);
  }
  result.rows_ = rows.size();
  return result;
}

void Table::keep_rows(std::span<const std::size_t> rows) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i] >= rows_ || (i > 0 && rows[i] <= rows[i - 1]))
      throw std::invalid_argument("keep_rows: rows must be ascending and in range");
  for (auto& column : columns_) {
    std::visit(
        [&](auto& values) {
          using T = std::decay_t<decltype(values)>;
          if constexpr (std::is_same_v<T, StringColumn>) {
            values.keep(rows);
          } else {
            for (std::size_t i = 0; i < rows.size(); ++i) values[i] = values[rows[i]];
            values.resize(rows.size());
          }
        },
        column);
  }
  rows_ = rows.size();
}

void Table::truncate_rows(std::size_t rows) {
  if (rows > rows_) throw std::invalid_argument("truncate_rows: more rows than the table holds");
  for (auto& column : columns_) {
    std::visit(
        [&](auto& values) {
          if constexpr (std::is_same_v<std::decay_t<decltype(values)>, StringColumn>)
            values.truncate(rows);
          else
            values.resize(rows);
        },
        column);
  }
  rows_ = rows;
}

void Table::append(const Table& other) {
  if (!same_schema(schema_, other.schema_)) throw std::logic_error("append: schemas differ");
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    std::visit(
        [&](auto& target) {
          using T = std::decay_t<decltype(target)>;
          const auto& source = std::get<T>(other.columns_[c]);
          if constexpr (std::is_same_v<T, StringColumn>) {
            for (std::size_t r = 0; r < source.size(); ++r) target.push_back(source[r]);
          } else {
            target.insert(target.end(), source.begin(), source.end());
          }
        },
        columns_[c]);
  }
  rows_ += other.rows_;
}

std::size_t Table::byte_size() const {
  std::size_t total = 0;
  for (const auto& column : columns_) {
    total += std::visit(
        [](const auto& col) -> std::size_t {
          using T = std::decay_t<decltype(col)>;
          if constexpr (std::is_same_v<T, StringColumn>)
            return col.byte_size() + col.size() * sizeof(std::uint64_t);
          else
            return col.size() * 8;
        },
        column);
  }
  return total;
}

bool same_schema(const Schema& a, const Schema& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const ColumnSpec& x, const ColumnSpec& y) { return x.name == y.name && x.type == y.type; });
}

std::string_view column_type_name(ColumnType type) {
  switch (type) {
    case ColumnType::Int64: return "int64";
    case ColumnType::Float64: return "float64";
    case ColumnType::String: return "string";
  }
  return "?";
}

void StringColumn::reserve(std::size_t rows, std::size_t bytes) {
  reserve_huge(offsets_, rows + 1);
  bytes_.reserve(bytes);
  advise_huge_pages(bytes_.data(), bytes_.capacity());
}

void Table::reserve_rows(std::size_t rows) {
  for (auto& column : columns_)
    std::visit(
        [&](auto& values) {
          if constexpr (std::is_same_v<std::decay_t<decltype(values)>, StringColumn>)
            values.reserve(rows, values.byte_size());
          else
            reserve_huge(values, rows);
        },
        column);
}

}  // namespace mpilake
