#include "mpilake/shuffle/merge_to_root.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpilake/mpi/every_rank.hpp"
#include "mpilake/shuffle/exchange.hpp"

namespace mpilake {

void merge_to_root(const Comm& comm, const Table& rows, std::span<const std::size_t> order, const RowLess& less,
                   std::size_t chunk_rows, const std::function<void(const Table& batch)>& emit) {
  std::size_t sent = 0;  // this rank's rows handed out so far (a cursor into `order`)
  const SortedChunks next = [&](std::size_t count, Table& chunk) {
    chunk = Table(rows.schema());
    for (const std::size_t end = sent + count; sent < end; ++sent) chunk.append_row(rows, order[sent]);
  };
  merge_to_root(comm, rows.schema(), static_cast<std::int64_t>(order.size()), next, less, chunk_rows, emit);
}

void merge_to_root(const Comm& comm, const Schema& schema, std::int64_t local_rows, const SortedChunks& next_rows,
                   const RowLess& less, std::size_t chunk_rows, const std::function<void(const Table& batch)>& emit) {
  chunk_rows = std::max<std::size_t>(chunk_rows, 1);
  const auto ranks = static_cast<std::size_t>(comm.size());
  std::vector<std::int64_t> remaining(ranks, 0);  // rows each rank has not sent yet
  remaining[static_cast<std::size_t>(comm.rank())] = local_rows;
  remaining = comm.allreduce_sum(remaining);
  std::int64_t sent = 0;  // this rank's rows sent so far

  // Rank 0: each rank's chunk in hand and the next row of it.
  std::vector<Table> chunk(ranks);
  std::vector<std::size_t> next(ranks, 0);
  const auto in_hand = [&](std::size_t r) { return next[r] < chunk[r].num_rows(); };
  // The ranks whose chunk rank 0 needs next: their chunk is used up and they have rows left.
  std::string wanted(ranks, '\0');
  for (std::size_t r = 0; r < ranks; ++r) wanted[r] = remaining[r] > 0 ? 1 : 0;
  const Table no_rows(schema);
  while (true) {
    wanted = comm.broadcast(wanted);
    if (wanted.find('\1') == std::string::npos) break;  // every rank's rows have been merged
    // This rank's next chunk when rank 0 wants it; every rank takes part in the exchange.
    Table mine(schema);
    // A source reading spill files can fail on one rank (a corrupt block): every rank stops alike.
    on_every_rank(comm, [&] {
      if (!wanted[static_cast<std::size_t>(comm.rank())]) return;
      const auto count = static_cast<std::size_t>(std::min<std::int64_t>(local_rows - sent, chunk_rows));
      next_rows(count, mine);
      if (mine.num_rows() != count || !same_schema(mine.schema(), schema))
        throw std::logic_error("merge_to_root: the sorted source gave " + std::to_string(mine.num_rows()) +
                               " rows of " + std::to_string(count) + " asked for");
      sent += static_cast<std::int64_t>(count);
    });
    const std::vector<int> to_root(mine.num_rows(), 0);
    const Table arrived = exchange_rows(comm, mine, to_root, ExchangeOptions{});
    Table batch(schema);
    if (comm.is_root()) {
      // The arrived rows come grouped by sender in rank order; each wanted rank sent a full chunk or
      // what it had left.
      std::size_t at = 0;
      for (std::size_t r = 0; r < ranks; ++r) {
        if (!wanted[r]) continue;
        const auto count = static_cast<std::size_t>(std::min<std::int64_t>(remaining[r], chunk_rows));
        std::vector<std::size_t> slice(count);
        for (std::size_t i = 0; i < count; ++i) slice[i] = at + i;
        chunk[r] = arrived.take(slice);
        next[r] = 0;
        remaining[r] -= static_cast<std::int64_t>(count);
        at += count;
      }
      // Merge while every rank that still has rows has some in hand (a rank without any could hold
      // the next smallest row).
      while (true) {
        bool starved = false;
        std::size_t best = ranks;
        for (std::size_t r = 0; r < ranks; ++r) {
          if (!in_hand(r)) {
            if (remaining[r] > 0) starved = true;
            continue;
          }
          if (best == ranks || less(chunk[r], next[r], chunk[best], next[best])) best = r;
        }
        if (starved || best == ranks) break;
        batch.append_row(chunk[best], next[best]++);
      }
      for (std::size_t r = 0; r < ranks; ++r) wanted[r] = !in_hand(r) && remaining[r] > 0 ? 1 : 0;
    }
    emit(comm.is_root() ? batch : no_rows);
  }
}

}  // namespace mpilake
