// exchange_rows under mpiexec: every rank can compute every rank's input from a seed, so each rank
// checks it received exactly the rows addressed to it, in (sender, row) order — also with round
// limits so small that many rounds run, and with empty inputs.
#include "mpilake/shuffle/exchange.hpp"

#include <gtest/gtest.h>

#include <random>

#include "mpilake/job/run_stats.hpp"
#include "mpilake/shuffle/replicate.hpp"

namespace mpilake {
namespace {

const Schema kSchema = {{"from", ColumnType::Int64}, {"text", ColumnType::String}, {"value", ColumnType::Float64}};

struct Input {
  Table rows{kSchema};
  std::vector<int> destination;
};

Input input_of(int rank, int ranks, std::uint64_t seed, std::size_t max_rows) {
  std::mt19937_64 random(seed * 1000 + static_cast<std::uint64_t>(rank));
  Input input;
  const std::size_t rows = max_rows == 0 ? 0 : random() % (max_rows + 1);
  for (std::size_t r = 0; r < rows; ++r) {
    input.rows.ints(0).push_back(rank);
    input.rows.strings(1).push_back(std::string(random() % 40, static_cast<char>('a' + r % 26)));
    input.rows.floats(2).push_back(static_cast<double>(r));
    input.rows.commit_row();
    input.destination.push_back(static_cast<int>(random() % static_cast<std::uint64_t>(ranks)));
  }
  return input;
}

void check_exchange(std::uint64_t seed, std::size_t max_rows, std::int64_t max_round_bytes) {
  const Comm comm(MPI_COMM_WORLD);
  const Input mine = input_of(comm.rank(), comm.size(), seed, max_rows);
  ExchangeStats stats;
  const Table got = exchange_rows(comm, mine.rows, mine.destination,
                                  ExchangeOptions{.max_round_bytes = max_round_bytes, .on_round = {}}, &stats);

  Table expected(kSchema);
  for (int sender = 0; sender < comm.size(); ++sender) {
    const Input theirs = input_of(sender, comm.size(), seed, max_rows);
    for (std::size_t r = 0; r < theirs.rows.num_rows(); ++r)
      if (theirs.destination[r] == comm.rank()) expected.append_row(theirs.rows, r);
  }
  ASSERT_EQ(got.num_rows(), expected.num_rows()) << "seed " << seed << " round limit " << max_round_bytes;
  for (std::size_t r = 0; r < got.num_rows(); ++r) {
    ASSERT_EQ(got.ints(0)[r], expected.ints(0)[r]);
    ASSERT_EQ(got.strings(1)[r], expected.strings(1)[r]);
    ASSERT_EQ(got.floats(2)[r], expected.floats(2)[r]);
  }
  EXPECT_EQ(comm.allreduce_sum(stats.bytes_sent), comm.allreduce_sum(stats.bytes_received));
  if (max_round_bytes < 64 && comm.allreduce_sum(static_cast<std::int64_t>(mine.rows.num_rows())) > 0) {
    EXPECT_GT(stats.rounds, 1) << "a tiny round limit must force several rounds";
  }
}

TEST(Exchange, DeliversEveryRowToItsDestination) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) check_exchange(seed, 300, std::int64_t{256} << 20);
}

TEST(Exchange, TinyRoundLimitRunsManyRoundsWithTheSameResult) {
  for (std::int64_t limit : {1, 7, 50, 1000})
    for (std::uint64_t seed = 1; seed <= 3; ++seed) check_exchange(seed, 60, limit);
}

// Each exchange is recorded on its own, and per_rank_exchanges gives every rank's figures: what the
// ranks sent adds up to what they received, each rank's figures are its own, a lone rank sends
// nothing, and a rank sends bytes exactly when it has rows for another rank.
TEST(Exchange, StatsPerExchangeAndPerRank) {
  const Comm comm(MPI_COMM_WORLD);
  ExchangeStats stats;
  std::vector<std::int64_t> rows_to_others;
  for (std::uint64_t seed : {11, 12}) {
    const Input mine = input_of(comm.rank(), comm.size(), seed, 200);
    exchange_rows(comm, mine.rows, mine.destination, ExchangeOptions{.max_round_bytes = 4096, .on_round = {}}, &stats);
    std::int64_t others = 0;
    for (const int to : mine.destination) others += to != comm.rank() ? 1 : 0;
    rows_to_others.push_back(others);
  }
  ASSERT_EQ(stats.calls.size(), 2U);
  EXPECT_EQ(stats.calls[0].bytes_sent + stats.calls[1].bytes_sent, stats.bytes_sent);
  EXPECT_EQ(stats.calls[0].bytes_received + stats.calls[1].bytes_received, stats.bytes_received);
  EXPECT_EQ(stats.calls[0].rounds + stats.calls[1].rounds, stats.rounds);
  const auto figures = job::per_rank_exchanges(comm, stats.calls);
  ASSERT_EQ(figures.size(), 2U);
  const auto rank = static_cast<std::size_t>(comm.rank());
  for (std::size_t i = 0; i < figures.size(); ++i) {
    ASSERT_EQ(figures[i].bytes_sent.size(), static_cast<std::size_t>(comm.size()));
    ASSERT_EQ(figures[i].bytes_received.size(), static_cast<std::size_t>(comm.size()));
    EXPECT_EQ(figures[i].bytes_sent[rank], stats.calls[i].bytes_sent);
    EXPECT_EQ(figures[i].bytes_received[rank], stats.calls[i].bytes_received);
    std::int64_t sent = 0, received = 0;
    for (std::size_t r = 0; r < figures[i].bytes_sent.size(); ++r) {
      sent += figures[i].bytes_sent[r];
      received += figures[i].bytes_received[r];
    }
    EXPECT_EQ(sent, received) << "exchange " << i;
    EXPECT_EQ(stats.calls[i].bytes_sent > 0, rows_to_others[i] > 0) << "exchange " << i;
    if (comm.size() == 1) {
      EXPECT_EQ(sent, 0);
    }
  }
}

TEST(Exchange, EmptyInputsOnEveryRank) {
  check_exchange(9, 0, 16);
}

TEST(Exchange, RejectsAnOutOfRangeDestination) {
  const Comm comm(MPI_COMM_WORLD);
  Table rows(kSchema);
  rows.ints(0).push_back(0);
  rows.strings(1).push_back("x");
  rows.floats(2).push_back(0);
  rows.commit_row();
  const std::vector<int> destination = {comm.size()};
  EXPECT_THROW(exchange_rows(comm, rows, destination, ExchangeOptions{}), std::out_of_range);
}

TEST(CheckedInt, RefusesCountsBeyondInt) {
  EXPECT_EQ(checked_int(2147483647, "test"), 2147483647);
  EXPECT_THROW(checked_int(std::int64_t{2147483648}, "test"), MpiError);
  EXPECT_THROW(checked_int(-1, "test"), MpiError);
}

TEST(Replicate, EveryRankGetsEveryRanksRowsInRankOrder) {
  const Comm comm(MPI_COMM_WORLD);
  for (const std::size_t max_rows : {std::size_t{0}, std::size_t{1}, std::size_t{50}}) {
    const Table got = replicate_rows(comm, input_of(comm.rank(), comm.size(), 9, max_rows).rows);
    Table expected(kSchema);
    for (int rank = 0; rank < comm.size(); ++rank) expected.append(input_of(rank, comm.size(), 9, max_rows).rows);
    ASSERT_EQ(got.num_rows(), expected.num_rows());
    for (std::size_t r = 0; r < got.num_rows(); ++r) {
      ASSERT_EQ(got.ints(0)[r], expected.ints(0)[r]);
      ASSERT_EQ(got.strings(1)[r], expected.strings(1)[r]);
      ASSERT_EQ(got.floats(2)[r], expected.floats(2)[r]);
    }
  }
}

}  // namespace
}  // namespace mpilake
