#include "mpilake/shuffle/sample_sort.hpp"

#include <algorithm>
#include <numeric>

#include "mpilake/table/cell_order.hpp"
#include "mpilake/table/row_codec.hpp"

namespace mpilake {

namespace {

// Three-way comparison of cell (row_a, column_a) of `a` with cell (row_b, column_b) of `b`.
int compare_cells(const Table& a, std::size_t row_a, std::size_t column_a, const Table& b, std::size_t row_b,
                  std::size_t column_b) {
  switch (a.schema()[column_a].type) {
    case ColumnType::Int64: {
      const auto x = a.ints(column_a)[row_a], y = b.ints(column_b)[row_b];
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case ColumnType::Float64: return compare_doubles(a.floats(column_a)[row_a], b.floats(column_b)[row_b]);
    case ColumnType::String: {
      const int c = a.strings(column_a)[row_a].compare(b.strings(column_b)[row_b]);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
  }
  return 0;
}

}  // namespace

std::vector<std::size_t> sort_order(const Table& table, std::span<const std::size_t> key_columns) {
  std::vector<std::size_t> columns(key_columns.begin(), key_columns.end());
  for (std::size_t c = 0; c < table.num_columns(); ++c)
    if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);

  // Leading int64 columns (up to two) become order-preserving unsigned codes sorted as plain
  // integers; only rows whose codes tie are compared cell by cell on the remaining columns.
  std::size_t coded = 0;
  while (coded < 2 && coded < columns.size() && table.schema()[columns[coded]].type == ColumnType::Int64) ++coded;
  const auto code = [&](std::size_t k, std::size_t row) -> std::uint64_t {
    return k < coded ? static_cast<std::uint64_t>(table.ints(columns[k])[row]) ^ (std::uint64_t{1} << 63) : 0;
  };
  struct Entry {
    std::uint64_t first, second;
    std::size_t row;
  };
  std::vector<Entry> entries(table.num_rows());
  for (std::size_t r = 0; r < entries.size(); ++r) entries[r] = {code(0, r), code(1, r), r};
  const std::span<const std::size_t> rest = std::span(columns).subspan(coded);
  std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.second != b.second) return a.second < b.second;
    for (auto c : rest) {
      const int result = compare_cells(table, a.row, c, table, b.row, c);
      if (result != 0) return result < 0;
    }
    return false;
  });
  std::vector<std::size_t> order(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) order[i] = entries[i].row;
  return order;
}

Table sort_globally(const Comm& comm, const Table& rows, std::span<const std::size_t> key_columns,
                    const ExchangeOptions& options, ExchangeStats* stats) {
  if (key_columns.empty()) throw std::invalid_argument("sort_globally: no key columns");
  const std::size_t first_key = key_columns[0];
  if (comm.size() == 1) return rows.take(sort_order(rows, key_columns));
  const Schema key_schema = {rows.schema()[first_key]};

  // Evenly spaced samples of the first key from each rank's rows (no local sort needed: the
  // splitters only decide which rank sorts which range, never the final order).
  Table samples(key_schema);
  const std::size_t wanted = std::min<std::size_t>(rows.num_rows(), 64 * static_cast<std::size_t>(comm.size()));
  for (std::size_t i = 0; i < wanted; ++i) {
    samples.append_cell(0, rows, first_key, i * rows.num_rows() / wanted);
    samples.commit_row();
  }

  // Rank 0 sorts all samples and cuts them into equal parts; every rank gets its splitters.
  const auto gathered = comm.gather_to_root(encode_rows(samples));
  std::string splitter_bytes;
  if (comm.is_root()) {
    Table all(key_schema);
    for (const auto& bytes : gathered) decode_rows(all, bytes);
    const std::vector<std::size_t> only_column = {0};
    const Table ordered = all.take(sort_order(all, only_column));
    Table chosen(key_schema);
    for (int p = 1; p < comm.size() && ordered.num_rows() > 0; ++p)
      chosen.append_row(ordered,
                        static_cast<std::size_t>(p) * ordered.num_rows() / static_cast<std::size_t>(comm.size()));
    splitter_bytes = encode_rows(chosen);
  }
  Table splitters(key_schema);
  decode_rows(splitters, comm.broadcast(splitter_bytes));

  // A row goes to the rank numbered by how many splitters are <= its key, so equal keys share a rank.
  std::vector<int> destination(rows.num_rows());
  for (std::size_t r = 0; r < rows.num_rows(); ++r) {
    std::size_t low = 0, high = splitters.num_rows();
    while (low < high) {
      const std::size_t middle = (low + high) / 2;
      if (compare_cells(splitters, middle, 0, rows, r, first_key) <= 0)
        low = middle + 1;
      else
        high = middle;
    }
    destination[r] = static_cast<int>(low);
  }
  Table received = exchange_rows(comm, rows, destination, options, stats);
  return received.take(sort_order(received, key_columns));
}

Table group_starts(const Table& sorted, std::size_t column, std::int64_t first_row) {
  Table groups({sorted.schema()[column], {"offset", ColumnType::Int64}});
  for (std::size_t r = 0; r < sorted.num_rows(); ++r) {
    if (r > 0 && compare_cells(sorted, r - 1, column, sorted, r, column) == 0) continue;
    groups.append_cell(0, sorted, column, r);
    groups.ints(1).push_back(first_row + static_cast<std::int64_t>(r));
    groups.commit_row();
  }
  return groups;
}

}  // namespace mpilake
