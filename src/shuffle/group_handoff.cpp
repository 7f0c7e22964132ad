#include "mpilake/shuffle/group_handoff.hpp"

#include <algorithm>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>

#include "mpilake/shuffle/key_scan.hpp"
#include "mpilake/table/key_index.hpp"

namespace mpilake {

GroupHeads find_group_heads(const Comm& comm, std::span<const std::uint32_t> key_of,
                            std::span<const std::string_view> keys, std::span<const std::uint8_t> start) {
  if (start.size() != key_of.size()) throw std::invalid_argument("find_group_heads: one start flag per row");
  // A row is leading when no start of its key came before it on this rank.
  std::vector<std::uint8_t> started(keys.size(), 0);  // per key: a start seen so far (at the end: this rank has one)
  std::vector<std::uint8_t> leads(keys.size(), 0);    // per key: some row of it is leading
  std::vector<std::uint8_t> leading(key_of.size(), 0);
  for (std::size_t r = 0; r < key_of.size(); ++r) {
    const std::uint32_t k = key_of[r];
    if (k >= keys.size()) throw std::invalid_argument("find_group_heads: a key id outside the keys");
    if (start[r]) started[k] = 1;
    if (!started[k]) leading[r] = leads[k] = 1;
  }

  // Each rank passes its rank for the keys it starts and asks about the keys it has leading rows of:
  // the answer is the nearest lower rank holding a start of that key, the owner of the open group.
  std::vector<KeyedValue> passed;
  std::vector<std::string> asked;
  std::vector<std::size_t> asked_slot(keys.size(), 0);
  for (std::size_t k = 0; k < keys.size(); ++k) {
    if (started[k]) passed.push_back({std::string(keys[k]), comm.rank()});
    if (leads[k]) {
      asked_slot[k] = asked.size();
      asked.emplace_back(keys[k]);
    }
  }
  const std::vector<std::optional<std::int64_t>> owner = previous_by_key(comm, passed, asked);

  GroupHeads heads;
  heads.owner.assign(key_of.size(), -1);
  heads.headless.assign(key_of.size(), 0);
  for (std::size_t r = 0; r < key_of.size(); ++r) {
    if (!leading[r]) continue;
    if (const std::optional<std::int64_t>& to = owner[asked_slot[key_of[r]]]) {
      heads.owner[r] = static_cast<int>(*to);
      ++heads.rows_to_send;
    } else {
      heads.headless[r] = 1;
    }
  }
  return heads;
}

GroupHandoff hand_off_open_groups(const Comm& comm, const Table& rows, std::size_t key_column,
                                  std::span<const std::uint8_t> start, const ExchangeOptions& options,
                                  ExchangeStats* stats) {
  if (start.size() != rows.num_rows()) throw std::invalid_argument("hand_off_open_groups: one start flag per row");
  if (key_column >= rows.num_columns() || rows.schema()[key_column].type != ColumnType::String)
    throw std::invalid_argument("hand_off_open_groups: the key column must be a string column");
  const StringColumn& keys = rows.strings(key_column);
  StringKeyIndex index;
  std::vector<std::uint32_t> key_of(rows.num_rows());
  for (std::size_t r = 0; r < rows.num_rows(); ++r) key_of[r] = static_cast<std::uint32_t>(index.insert(keys[r]).first);
  std::vector<std::string_view> key_texts;
  for (std::size_t k = 0; k < index.size(); ++k) key_texts.push_back(index.key(k));
  const GroupHeads heads = find_group_heads(comm, key_of, key_texts, start);

  GroupHandoff result;
  result.rows_sent = heads.rows_to_send;
  std::vector<int> destination(rows.num_rows(), comm.rank());
  std::vector<std::uint8_t> kept_headless;
  std::vector<std::uint8_t> kept_start;
  for (std::size_t r = 0; r < rows.num_rows(); ++r) {
    if (heads.owner[r] >= 0) {
      destination[r] = heads.owner[r];
      continue;
    }
    kept_headless.push_back(heads.headless[r]);
    kept_start.push_back(start[r] ? 1 : 0);
  }

  // Rows only ever go down, so the rows kept here come first in the exchange's (sender-ordered)
  // result, and the rows received follow from the higher ranks in rank order.
  result.rows = exchange_rows(comm, rows, destination, options, stats);
  result.kept_rows = kept_start.size();
  result.start = std::move(kept_start);
  result.start.resize(result.rows.num_rows(), 0);
  result.headless = std::move(kept_headless);
  result.headless.resize(result.rows.num_rows(), 0);
  return result;
}

std::vector<std::size_t> stable_key_order(const Table& rows, std::size_t key_column) {
  // Keys are few (a dimension) and rows many: number the distinct keys with a hash index, sort only
  // the keys, then place the rows with a counting sort, which keeps each key's rows in row order.
  const StringColumn& keys = rows.strings(key_column);
  StringKeyIndex index(1024);
  std::vector<std::uint32_t> id_of_row(rows.num_rows());
  for (std::size_t r = 0; r < rows.num_rows(); ++r)
    id_of_row[r] = static_cast<std::uint32_t>(index.insert(keys[r]).first);
  std::vector<std::uint32_t> by_key(index.size());
  std::iota(by_key.begin(), by_key.end(), 0U);
  std::sort(by_key.begin(), by_key.end(),
            [&](std::uint32_t a, std::uint32_t b) { return index.key(a) < index.key(b); });
  std::vector<std::size_t> first(index.size() + 1, 0);
  for (const std::uint32_t id : id_of_row) ++first[id + 1];
  std::vector<std::size_t> start_of(index.size());
  std::size_t at = 0;
  for (const std::uint32_t id : by_key) {
    start_of[id] = at;
    at += first[id + 1];
  }
  std::vector<std::size_t> order(rows.num_rows());
  for (std::size_t r = 0; r < rows.num_rows(); ++r) order[start_of[id_of_row[r]]++] = r;
  return order;
}

}  // namespace mpilake
