#include "mpilake/stedi/ml_join.hpp"

#include <algorithm>
#include <cstring>

#include "mpilake/stedi/schema.hpp"

namespace mpilake::stedi {

namespace {

struct KeyedRow {
  std::int64_t serial;
  std::int64_t time;
  std::size_t row;
  bool operator<(const KeyedRow& other) const {
    if (serial != other.serial) return serial < other.serial;
    if (time != other.time) return time < other.time;
    return row < other.row;
  }
};

// The rows' keys in (serial, time, row) order. Serial ids are dense (0 .. serials - 1), so the rows
// are first placed by serial with a counting sort (row order kept), then each serial's run, short,
// is sorted by (time, row): the same order as one sort of everything, with far fewer comparisons
// and cache misses. Without serials (rubric), or with ids that are not dense, one sort.
std::vector<KeyedRow> sorted_keys(const Table& table, std::size_t time_column, bool by_serial) {
  const std::size_t rows = table.num_rows();
  std::vector<KeyedRow> keys(rows);
  const auto& serials = table.ints(0);
  const auto& times = table.ints(time_column);
  std::int64_t low = 0, high = -1;
  if (by_serial && rows > 0) {
    const auto [min, max] = std::minmax_element(serials.begin(), serials.end());
    low = *min;
    high = *max;
  }
  if (!by_serial || rows == 0 || low < 0 || static_cast<std::uint64_t>(high) > 4 * rows + 1024) {
    for (std::size_t r = 0; r < rows; ++r) keys[r] = {by_serial ? serials[r] : 0, times[r], r};
    std::sort(keys.begin(), keys.end());
    return keys;
  }
  std::vector<std::size_t> start(static_cast<std::size_t>(high) + 2, 0);
  for (const std::int64_t serial : serials) ++start[static_cast<std::size_t>(serial) + 1];
  for (std::size_t s = 1; s < start.size(); ++s) start[s] += start[s - 1];
  std::vector<std::size_t> next(start.begin(), start.end() - 1);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::int64_t serial = serials[r];
    keys[next[static_cast<std::size_t>(serial)]++] = {serial, times[r], r};
  }
  for (std::size_t s = 0; s + 1 < start.size(); ++s) {
    const auto first = keys.begin() + static_cast<std::ptrdiff_t>(start[s]);
    const auto last = keys.begin() + static_cast<std::ptrdiff_t>(start[s + 1]);
    if (!std::is_sorted(first, last)) std::sort(first, last);
  }
  return keys;
}

// The zone's row order on ids: (serialNumber, timestamp), then sensorReadingTime,
// distanceFromObject, user, x, y, z; doubles that compare equal (0.0 and -0.0) by their bits.
bool ml_row_less(const Table& t, std::size_t a, std::size_t b) {
  for (const std::size_t c : {1, 4, 0, 2, 3})
    if (t.ints(c)[a] != t.ints(c)[b]) return t.ints(c)[a] < t.ints(c)[b];
  for (const std::size_t c : {5, 6, 7}) {
    const double x = t.floats(c)[a], y = t.floats(c)[b];
    if (x < y) return true;
    if (x > y) return false;
    std::int64_t bits_x, bits_y;
    std::memcpy(&bits_x, &x, 8);
    std::memcpy(&bits_y, &y, 8);
    if (bits_x != bits_y) return bits_x < bits_y;
  }
  return false;
}

}  // namespace

Schema ml_readings_schema() {
  return {{"serial", ColumnType::Int64}, {"user", ColumnType::Int64}, {"timestamp", ColumnType::Int64},
          {"x", ColumnType::Float64},    {"y", ColumnType::Float64},  {"z", ColumnType::Float64}};
}

Schema ml_step_keys_schema() {
  return {{"serial", ColumnType::Int64}, {"time", ColumnType::Int64}, {"distance", ColumnType::Int64}};
}

Schema machine_learning_id_schema() {
  Schema schema = machine_learning_schema();
  for (auto& column : schema)
    if (column.type == ColumnType::String) column.type = ColumnType::Int64;
  return schema;
}

Table join_readings_with_steps(const Table& readings, const Table& steps, bool by_serial) {
  // A sort-merge join: both sides sorted by key, so the matches come out in key order and only rows
  // sharing a key need ordering among themselves.
  const std::vector<KeyedRow> reading_keys = sorted_keys(readings, 2, by_serial);
  const std::vector<KeyedRow> step_keys = sorted_keys(steps, 1, by_serial);
  Table joined(machine_learning_id_schema());
  std::vector<std::size_t> group;
  std::size_t i = 0, j = 0;
  while (i < reading_keys.size() && j < step_keys.size()) {
    const KeyedRow& a = reading_keys[i];
    const KeyedRow& s = step_keys[j];
    if (a.serial != s.serial || a.time != s.time) {
      if (a.serial < s.serial || (a.serial == s.serial && a.time < s.time))
        ++i;
      else
        ++j;
      continue;
    }
    std::size_t i_end = i, j_end = j;
    while (i_end < reading_keys.size() && reading_keys[i_end].serial == a.serial && reading_keys[i_end].time == a.time)
      ++i_end;
    while (j_end < step_keys.size() && step_keys[j_end].serial == s.serial && step_keys[j_end].time == s.time) ++j_end;
    const std::size_t first_out = joined.num_rows();
    for (std::size_t x = i; x < i_end; ++x) {
      const std::size_t r = reading_keys[x].row;
      for (std::size_t y = j; y < j_end; ++y) {
        const std::size_t t = step_keys[y].row;
        joined.ints(0).push_back(steps.ints(1)[t]);
        joined.ints(1).push_back(steps.ints(0)[t]);
        joined.ints(2).push_back(steps.ints(2)[t]);
        joined.ints(3).push_back(readings.ints(1)[r]);
        joined.ints(4).push_back(readings.ints(2)[r]);
        joined.floats(5).push_back(readings.floats(3)[r]);
        joined.floats(6).push_back(readings.floats(4)[r]);
        joined.floats(7).push_back(readings.floats(5)[r]);
        joined.commit_row();
      }
    }
    // Several rows share this key: put them in the zone's order.
    if (joined.num_rows() - first_out > 1) {
      group.resize(joined.num_rows() - first_out);
      for (std::size_t k = 0; k < group.size(); ++k) group[k] = first_out + k;
      std::sort(group.begin(), group.end(), [&](std::size_t x, std::size_t y) { return ml_row_less(joined, x, y); });
      const Table ordered = joined.take(group);
      for (std::size_t c = 0; c < 5; ++c)
        std::copy(ordered.ints(c).begin(), ordered.ints(c).end(), joined.ints(c).begin() + first_out);
      for (std::size_t c = 5; c < 8; ++c)
        std::copy(ordered.floats(c).begin(), ordered.floats(c).end(), joined.floats(c).begin() + first_out);
    }
    i = i_end;
    j = j_end;
  }
  return joined;
}

}  // namespace mpilake::stedi
