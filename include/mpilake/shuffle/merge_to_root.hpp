#pragma once
// A streaming k-way merge onto rank 0, for an output one process writes in a global order (e.g. the
// quarantine list sorted by file and offset) without holding all of it: each rank sorts its own rows,
// and rank 0 takes them in chunks, merges, and hands the merged rows on batch by batch. Rank 0 holds
// at most one chunk per rank and one batch; the other ranks hold only their own rows.
#include <cstddef>
#include <functional>
#include <span>

#include "mpilake/mpi/comm.hpp"
#include "mpilake/table/row_less.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

// Collective. `order` is this rank's rows of `rows` sorted by `less`. Rank 0 asks each rank for its
// rows `chunk_rows` at a time (at least 1) and merges them; ties go to the lower rank, then to the
// earlier row. `emit(batch)` is called on every rank in rounds, so that it may run collectives: on rank
// 0 with the next merged rows (in order, possibly none), elsewhere with no rows; every row reaches rank
// 0's batches exactly once. `rows` must have the same schema on every rank.
void merge_to_root(const Comm& comm, const Table& rows, std::span<const std::size_t> order, const RowLess& less,
                   std::size_t chunk_rows, const std::function<void(const Table& batch)>& emit);

// This rank's sorted rows read on demand: `next(count, chunk)` replaces `chunk` with the next `count`
// rows in order (exactly that many; the merge never asks past `local_rows`).
using SortedChunks = std::function<void(std::size_t count, Table& chunk)>;

// The same merge for rows that are not in memory (e.g. io/sorted_runs.hpp): `local_rows` rows of
// `schema` (the same on every rank) come from `next`.
void merge_to_root(const Comm& comm, const Schema& schema, std::int64_t local_rows, const SortedChunks& next,
                   const RowLess& less, std::size_t chunk_rows, const std::function<void(const Table& batch)>& emit);

}  // namespace mpilake
