#pragma once
// Distributed sort of a table by key columns (a sample sort): ranks sample their sorted keys, rank 0
// picks splitters, rows move to their key range with exchange_rows, and each rank sorts what it
// received. Afterwards rank r's rows all precede rank r+1's, so writing the ranks' rows in rank order
// gives a globally sorted file, and no rank ever holds all rows.
#include <span>

#include "mpilake/mpi/comm.hpp"
#include "mpilake/shuffle/exchange.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

// Total order on rows: the `key_columns` first, then every other column in schema order (so equal
// keys still sort the same way whatever the rank count).
std::vector<std::size_t> sort_order(const Table& table, std::span<const std::size_t> key_columns);

// Collective. Ranges are cut on the first key column only, so all rows with the same first-key value
// (e.g. one device's series) end up on the same rank.
Table sort_globally(const Comm& comm, const Table& rows, std::span<const std::size_t> key_columns,
                    const ExchangeOptions& options, ExchangeStats* stats = nullptr);

// For a table sorted on `column`: one row per distinct value, with the value and the row where its
// run starts, counted from `first_row` (the rank's offset in the file).
Table group_starts(const Table& sorted, std::size_t column, std::int64_t first_row);

}  // namespace mpilake
