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

template <class Value>
Value* resized(std::vector<Value>& values, std::size_t size) {
  values.resize(size);
  return values.data();
}

// Doubles in the zone's order: by value, those that compare equal (0.0 and -0.0) by their bits.
int compare_doubles(double x, double y) {
  if (x < y) return -1;
  if (x > y) return 1;
  std::int64_t bits_x, bits_y;
  std::memcpy(&bits_x, &x, 8);
  std::memcpy(&bits_y, &y, 8);
  return bits_x < bits_y ? -1 : (bits_x > bits_y ? 1 : 0);
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

Table join_readings_with_steps(Table&& readings, Table&& steps, bool by_serial) {
  // A sort-merge join: both sides sorted by key, so the matches come out in key order and only rows
  // sharing a key need ordering among themselves. The matches are collected as (reading, step) row
  // pairs first, so the output columns are sized once and filled column by column.
  const std::vector<KeyedRow> reading_keys = sorted_keys(readings, 2, by_serial);
  const std::vector<KeyedRow> step_keys = sorted_keys(steps, 1, by_serial);
  const auto& reading_user = readings.ints(1);
  const auto& reading_time = readings.ints(2);
  const auto& reading_x = readings.floats(3);
  const auto& reading_y = readings.floats(4);
  const auto& reading_z = readings.floats(5);
  const auto& step_serial = steps.ints(0);
  const auto& step_time = steps.ints(1);
  const auto& step_distance = steps.ints(2);
  // The zone's row order on ids: (serialNumber, timestamp), then sensorReadingTime,
  // distanceFromObject, user, x, y, z (see compare_doubles).
  const auto pair_less = [&](const std::pair<std::size_t, std::size_t>& a,
                             const std::pair<std::size_t, std::size_t>& b) {
    const std::size_t ra = a.first, rb = b.first, sa = a.second, sb = b.second;
    if (step_serial[sa] != step_serial[sb]) return step_serial[sa] < step_serial[sb];
    if (reading_time[ra] != reading_time[rb]) return reading_time[ra] < reading_time[rb];
    if (step_time[sa] != step_time[sb]) return step_time[sa] < step_time[sb];
    if (step_distance[sa] != step_distance[sb]) return step_distance[sa] < step_distance[sb];
    if (reading_user[ra] != reading_user[rb]) return reading_user[ra] < reading_user[rb];
    if (const int c = compare_doubles(reading_x[ra], reading_x[rb])) return c < 0;
    if (const int c = compare_doubles(reading_y[ra], reading_y[rb])) return c < 0;
    return compare_doubles(reading_z[ra], reading_z[rb]) < 0;
  };
  std::vector<std::pair<std::size_t, std::size_t>> matches;
  matches.reserve(std::min(reading_keys.size(), step_keys.size()));
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
    std::size_t i_end = i + 1, j_end = j + 1;
    while (i_end < reading_keys.size() && reading_keys[i_end].serial == a.serial && reading_keys[i_end].time == a.time)
      ++i_end;
    while (j_end < step_keys.size() && step_keys[j_end].serial == s.serial && step_keys[j_end].time == s.time) ++j_end;
    const std::size_t first_match = matches.size();
    for (std::size_t x = i; x < i_end; ++x)
      for (std::size_t y = j; y < j_end; ++y) matches.emplace_back(reading_keys[x].row, step_keys[y].row);
    // Several rows share this key: put them in the zone's order.
    if (matches.size() - first_match > 1)
      std::sort(matches.begin() + static_cast<std::ptrdiff_t>(first_match), matches.end(), pair_less);
    i = i_end;
    j = j_end;
  }
  // One pass over the matches fills every output column (sized once).
  Table joined(machine_learning_id_schema());
  const std::size_t rows = matches.size();
  std::int64_t* out_time = resized(joined.ints(0), rows);
  std::int64_t* out_serial = resized(joined.ints(1), rows);
  std::int64_t* out_distance = resized(joined.ints(2), rows);
  std::int64_t* out_user = resized(joined.ints(3), rows);
  std::int64_t* out_timestamp = resized(joined.ints(4), rows);
  double* out_x = resized(joined.floats(5), rows);
  double* out_y = resized(joined.floats(6), rows);
  double* out_z = resized(joined.floats(7), rows);
  for (std::size_t k = 0; k < rows; ++k) {
    const std::size_t r = matches[k].first, t = matches[k].second;
    out_time[k] = step_time[t];
    out_serial[k] = step_serial[t];
    out_distance[k] = step_distance[t];
    out_user[k] = reading_user[r];
    out_timestamp[k] = reading_time[r];
    out_x[k] = reading_x[r];
    out_y[k] = reading_y[r];
    out_z[k] = reading_z[r];
  }
  joined.set_rows_from_columns();
  return joined;
}

}  // namespace mpilake::stedi
