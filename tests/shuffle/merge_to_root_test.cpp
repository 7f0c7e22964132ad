// merge_to_root under mpiexec: every rank builds every rank's rows from a seed, so rank 0 can check
// the merged stream against a plain sort of all the rows (ties: lower rank, then earlier row).
#include "mpilake/shuffle/merge_to_root.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace mpilake {
namespace {

Schema merge_schema() {
  return {{"key", ColumnType::String},
          {"number", ColumnType::Int64},
          {"rank", ColumnType::Int64},
          {"row", ColumnType::Int64}};
}

// Rank `rank`'s rows: keys from a small alphabet (many ties), some ranks empty or large.
Table rows_of(int rank, std::uint64_t seed) {
  std::mt19937_64 random(seed * 104729 + static_cast<std::uint64_t>(rank));
  Table rows(merge_schema());
  const std::size_t count = random() % 4 == 0 ? 0 : random() % 300;
  for (std::size_t r = 0; r < count; ++r) {
    rows.strings(0).push_back("k" + std::to_string(random() % 7));
    rows.ints(1).push_back(static_cast<std::int64_t>(random() % 5) - 2);
    rows.ints(2).push_back(rank);
    rows.ints(3).push_back(static_cast<std::int64_t>(r));
    rows.commit_row();
  }
  return rows;
}

bool less_row(const Table& a, std::size_t i, const Table& b, std::size_t j) {
  return std::make_tuple(a.strings(0)[i], a.ints(1)[i]) < std::make_tuple(b.strings(0)[j], b.ints(1)[j]);
}

// (key, number, rank, row) of every row of all ranks in the expected merged order.
std::vector<std::tuple<std::string, std::int64_t, std::int64_t, std::int64_t>> reference(int ranks,
                                                                                         std::uint64_t seed) {
  std::vector<std::tuple<std::string, std::int64_t, std::int64_t, std::int64_t>> all;
  for (int rank = 0; rank < ranks; ++rank) {
    const Table rows = rows_of(rank, seed);
    for (std::size_t r = 0; r < rows.num_rows(); ++r)
      all.emplace_back(std::string(rows.strings(0)[r]), rows.ints(1)[r], rows.ints(2)[r], rows.ints(3)[r]);
  }
  // Sorted by the key alone, stable: equal keys keep rank order, then row order.
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  return all;
}

bool check_merge(std::uint64_t seed, std::size_t chunk_rows) {
  const Comm comm(MPI_COMM_WORLD);
  const Table mine = rows_of(comm.rank(), seed);
  std::vector<std::size_t> order(mine.num_rows());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return less_row(mine, a, mine, b); });
  std::vector<std::tuple<std::string, std::int64_t, std::int64_t, std::int64_t>> got;
  std::int64_t rounds = 0, rows_elsewhere = 0;
  merge_to_root(comm, mine, order, less_row, chunk_rows, [&](const Table& batch) {
    ++rounds;
    // Every rank is called in every round (emit may run collectives).
    EXPECT_EQ(comm.allreduce_sum(std::int64_t{1}), comm.size());
    if (!comm.is_root()) rows_elsewhere += static_cast<std::int64_t>(batch.num_rows());
    for (std::size_t r = 0; r < batch.num_rows(); ++r)
      got.emplace_back(std::string(batch.strings(0)[r]), batch.ints(1)[r], batch.ints(2)[r], batch.ints(3)[r]);
  });
  EXPECT_EQ(rows_elsewhere, 0) << "rows emitted on rank " << comm.rank();
  EXPECT_EQ(comm.allreduce_max(rounds), -comm.allreduce_max(-rounds)) << "ranks ran different rounds";
  if (!comm.is_root()) return rows_elsewhere == 0;
  const auto expected = reference(comm.size(), seed);
  EXPECT_EQ(got, expected) << "seed " << seed << " chunk " << chunk_rows;
  return got == expected;
}

TEST(MergeToRoot, RandomisedAgainstAStableSortOfAllRows) {
  const Comm comm(MPI_COMM_WORLD);
  for (std::uint64_t seed = 1; seed <= 25; ++seed)
    for (const std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
      const bool ok = check_merge(seed, chunk);
      if (comm.allreduce_max(std::int64_t{ok ? 0 : 1}) != 0) FAIL() << "stopped at seed " << seed;
    }
}

TEST(MergeToRoot, NoRowsAnywhereEmitsNothing) {
  const Comm comm(MPI_COMM_WORLD);
  const Table none(merge_schema());
  std::int64_t rounds = 0;
  merge_to_root(comm, none, {}, less_row, 10, [&](const Table&) { ++rounds; });
  EXPECT_EQ(rounds, 0);
}

}  // namespace
}  // namespace mpilake
