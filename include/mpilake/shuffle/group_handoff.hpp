#pragma once
// Hand-off of groups that cross rank boundaries. The rows of a stream are in a global order (rank
// order, then each rank's order, as when each rank parses a contiguous byte range). Each row has a
// key, and some rows are group starts: a group is a start row of key k with every following row of
// key k up to the next start of k, wherever those rows lie (a group may start on rank 2 and go on
// through ranks 3, 4 and 5, some of which hold no start of k at all). hand_off_open_groups moves
// each rank's rows that continue a group opened on a lower rank — its rows of key k before its own
// first start of k, or all of them when it has none — to the nearest lower rank holding a start of
// k. Afterwards every group is whole on the rank of its start, and the rows of a key that no rank
// ever started before them stay where they are, marked headless (a dump that began mid-group).
//
// How a pipeline uses it: parse, flag the start rows (rows the parser rejected are left out), hand
// off, then walk the result in stable_key_order: for each key, its rows come in global order, a
// headless run first if any, then whole groups each beginning at a start row — exactly what a single
// process walking the whole stream would see, whatever the rank count. Carry whatever else a row
// needs (file, byte offset, line kind) as columns of the table.
//
// Cost: one previous_by_key over this rank's distinct keys (see key_scan.hpp: O(K log P) bytes, K
// the distinct keys) and one exchange_rows that moves only the leading rows of each rank, always to
// a lower rank. A group is pulled whole onto the rank of its start: a group spanning m ranks moves
// its rows on the m - 1 ranks after its start, and a rank receives the tails of all groups open at
// its end. That is cheap when groups are bounded (a ride is minutes of lines) but a key with one
// start and rows everywhere lands entirely on one rank.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "mpilake/mpi/comm.hpp"
#include "mpilake/shuffle/exchange.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

struct GroupHandoff {
  // The rows this rank keeps, in its order, then the rows received, grouped by sending rank in rank
  // order (each in the sender's order; every sender is a higher rank). A stable sort by key (see
  // stable_key_order) gives each key's rows in global order.
  Table rows;
  std::vector<std::uint8_t> start;     // per row of `rows`: the input start flag (received rows: 0)
  std::vector<std::uint8_t> headless;  // per row of `rows`: before any start of its key, globally
  std::size_t kept_rows = 0;           // rows [0, kept_rows) are this rank's own
  std::int64_t rows_sent = 0;          // rows this rank handed to lower ranks
};

// Collective. `rows` in this rank's global order; `key_column` a string column; `start[i]` non-zero
// when row i starts a group. The exchange honours `options` and adds its figures to `stats`. Throws
// std::invalid_argument (on the rank at fault, before any communication) when `start` has not one
// flag per row or `key_column` is not a string column.
GroupHandoff hand_off_open_groups(const Comm& comm, const Table& rows, std::size_t key_column,
                                  std::span<const std::uint8_t> start, const ExchangeOptions& options,
                                  ExchangeStats* stats = nullptr);

// The decision behind hand_off_open_groups, without moving anything, for a pipeline that keeps its
// rows where they are and exchanges only the leading ones (a streaming walk keeps per-key state, so
// it needs no sort and no copy of the kept rows): rows of key k before this rank's first start of k
// go to the nearest lower rank holding a start of k; those of a key no lower rank started stay,
// headless. `key_of[r]` is row r's key id, an index into `keys` (this rank's distinct keys).
struct GroupHeads {
  std::vector<int> owner;              // per row: the rank it continues a group on; -1 when kept here
  std::vector<std::uint8_t> headless;  // per row: kept, but before any start of its key, globally
  std::int64_t rows_to_send = 0;
};
GroupHeads find_group_heads(const Comm& comm, std::span<const std::uint32_t> key_of,
                            std::span<const std::string_view> keys, std::span<const std::uint8_t> start);

// Row order sorting by `key_column` (bytewise), ties kept in row order (a stable sort).
std::vector<std::size_t> stable_key_order(const Table& rows, std::size_t key_column);

}  // namespace mpilake
