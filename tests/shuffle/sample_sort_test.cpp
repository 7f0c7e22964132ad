// sort_globally under mpiexec: every rank can build every rank's input, so each checks that the
// concatenation of all ranks' outputs (in rank order) is the reference std::sort of all rows, that
// equal first keys never straddle ranks, and group_starts marks each run of equal keys.
#include "mpilake/shuffle/sample_sort.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>

#include "mpilake/table/row_codec.hpp"

namespace mpilake {
namespace {

const Schema kSchema = {{"value", ColumnType::Float64}, {"device", ColumnType::String}, {"time", ColumnType::Int64}};
using Row = std::tuple<std::string, std::int64_t, double>;  // key order: device, time, then value

Table input_of(int rank, std::uint64_t seed, std::size_t devices) {
  std::mt19937_64 random(seed * 100 + static_cast<std::uint64_t>(rank));
  Table table(kSchema);
  const std::size_t rows = random() % 200;
  for (std::size_t r = 0; r < rows; ++r) {
    table.floats(0).push_back(static_cast<double>(random() % 5));
    table.strings(1).push_back("device-" + std::to_string(random() % devices));
    table.ints(2).push_back(static_cast<std::int64_t>(random() % 50));
    table.commit_row();
  }
  return table;
}

std::vector<Row> rows_of(const Table& table) {
  std::vector<Row> rows;
  for (std::size_t r = 0; r < table.num_rows(); ++r)
    rows.emplace_back(std::string(table.strings(1)[r]), table.ints(2)[r], table.floats(0)[r]);
  return rows;
}

void check_sort(std::uint64_t seed, std::size_t devices, std::int64_t round_bytes) {
  const Comm comm(MPI_COMM_WORLD);
  const std::vector<std::size_t> key = {1, 2};
  const Table sorted = sort_globally(comm, input_of(comm.rank(), seed, devices), key,
                                     ExchangeOptions{.max_round_bytes = round_bytes, .on_round = {}});
  const auto parts = comm.gather_to_root(encode_rows(sorted));
  if (!comm.is_root()) return;
  std::vector<Row> expected;
  for (int r = 0; r < comm.size(); ++r) {
    const auto rows = rows_of(input_of(r, seed, devices));
    expected.insert(expected.end(), rows.begin(), rows.end());
  }
  std::sort(expected.begin(), expected.end());
  std::vector<Row> got;
  std::vector<std::string> last_device_of_rank;
  for (const auto& bytes : parts) {
    Table part(kSchema);
    decode_rows(part, bytes);
    const auto rows = rows_of(part);
    if (!rows.empty() && !got.empty()) {
      EXPECT_NE(std::get<0>(rows.front()), std::get<0>(got.back())) << "a device straddles two ranks";
    }
    got.insert(got.end(), rows.begin(), rows.end());
  }
  EXPECT_EQ(got, expected) << "seed " << seed << ", " << devices << " devices";
}

TEST(SampleSort, ConcatenatedOutputIsTheSortedInput) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) check_sort(seed, 30, std::int64_t{1} << 20);
}

TEST(SampleSort, FewDistinctKeysAndTinyRounds) {
  check_sort(5, 1, 64);
  check_sort(6, 2, 7);
}

TEST(GroupStarts, MarksEachRunOfEqualValues) {
  Table table(kSchema);
  for (const char* device : {"a", "a", "b", "c", "c", "c"}) {
    table.floats(0).push_back(0);
    table.strings(1).push_back(device);
    table.ints(2).push_back(0);
    table.commit_row();
  }
  const Table starts = group_starts(table, 1, 100);
  ASSERT_EQ(starts.num_rows(), 3u);
  EXPECT_EQ(starts.strings(0)[1], "b");
  EXPECT_EQ(starts.ints(1)[0], 100);
  EXPECT_EQ(starts.ints(1)[1], 102);
  EXPECT_EQ(starts.ints(1)[2], 103);
}

}  // namespace
}  // namespace mpilake
