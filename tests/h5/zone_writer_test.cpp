// Collective zone writes under mpiexec, read back serially: rows land in rank order at their
// Exscan offsets, ranks with zero rows take part, an empty zone is a valid file, NULLs and
// attributes follow the contract, and no temporary file is left behind.
#include "mpilake/h5/zone_writer.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "mpilake/h5/zone_reader.hpp"

namespace mpilake {
namespace {

const Schema kSchema = {{"id", ColumnType::Int64}, {"name", ColumnType::String}, {"value", ColumnType::Float64}};

// Rank r holds rows_of(r) rows; row k of rank r has id 1000*r + k, name "r<r>-<k...>", value r+k/10.
Table rows_of_rank(int rank, std::size_t rows) {
  Table table(kSchema);
  for (std::size_t k = 0; k < rows; ++k) {
    table.ints(0).push_back(k == 1 ? kNullInt64 : 1000 * rank + static_cast<std::int64_t>(k));
    table.strings(1).push_back(k == 2 ? std::string() : "r" + std::to_string(rank) + "-" + std::string(k, 'x'));
    table.floats(2).push_back(rank + static_cast<double>(k) / 10);
    table.commit_row();
  }
  return table;
}

std::filesystem::path shared_temp_path(const Comm& comm, const std::string& name) {
  return std::filesystem::temp_directory_path() /
         comm.broadcast("mpilake_zone_test_" + std::to_string(::getpid()) + "_" + name + ".h5");
}

void check_round_trip(const std::string& name, std::size_t (*rows_for)(int rank)) {
  const Comm comm(MPI_COMM_WORLD);
  const auto path = shared_temp_path(comm, name);
  const Table mine = rows_of_rank(comm.rank(), rows_for(comm.rank()));
  const auto result = write_zone(comm, path, mine, {{"zone", std::string(name)}, {"schema_version", std::int64_t{1}}});

  Table expected(kSchema);
  for (int r = 0; r < comm.size(); ++r) expected.append(rows_of_rank(r, rows_for(r)));
  EXPECT_EQ(result.rows, static_cast<std::int64_t>(expected.num_rows()));
  if (comm.is_root()) {
    EXPECT_FALSE(std::filesystem::exists(temporary_path_for(path)));
    const ZoneFile zone = read_zone(path);
    ASSERT_EQ(zone.rows, static_cast<std::int64_t>(expected.num_rows()));
    ASSERT_EQ(zone.columns.size(), 3u);
    EXPECT_EQ(zone.columns[0].name, "id");
    EXPECT_TRUE(zone.columns[0].has_null_value);
    EXPECT_EQ(zone.columns[0].null_value, kNullInt64);
    EXPECT_EQ(zone.columns[1].type, ColumnType::String);
    EXPECT_FALSE(zone.columns[2].has_null_value);
    std::size_t longest = 1;
    for (std::size_t r = 0; r < expected.num_rows(); ++r) longest = std::max(longest, expected.strings(1)[r].size());
    EXPECT_EQ(zone.columns[1].string_width, longest);
    for (std::size_t r = 0; r < expected.num_rows(); ++r) {
      EXPECT_EQ(zone.table.ints(0)[r], expected.ints(0)[r]) << r;
      EXPECT_EQ(zone.table.strings(1)[r], expected.strings(1)[r]) << r;
      EXPECT_EQ(zone.table.floats(2)[r], expected.floats(2)[r]) << r;
    }
    std::map<std::string, std::string> attributes;
    for (const auto& a : zone.attributes) attributes[a.name] = attribute_text(a.value);
    EXPECT_EQ(attributes["zone"], name);
    EXPECT_EQ(attributes["rows"], std::to_string(expected.num_rows()));
    EXPECT_EQ(attributes["columns"], "[id, name, value]");
    EXPECT_EQ(attributes["schema_version"], "1");
    std::filesystem::remove(path);
  }
  comm.barrier();
}

TEST(ZoneWriter, EveryRankHoldsRows) {
  check_round_trip("all", [](int rank) -> std::size_t { return 3 + static_cast<std::size_t>(rank) * 2; });
}

TEST(ZoneWriter, OnlyTheLastRankHoldsRows) {
  check_round_trip("last", [](int rank) -> std::size_t {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return rank == size - 1 ? 5 : 0;
  });
}

TEST(ZoneWriter, OnlyRankZeroHoldsRows) {
  check_round_trip("first", [](int rank) -> std::size_t { return rank == 0 ? 4 : 0; });
}

TEST(ZoneWriter, ZoneEmptyEverywhere) {
  check_round_trip("empty", [](int) -> std::size_t { return 0; });
}

TEST(ZoneWriter, ADictionaryColumnIsWrittenAsItsStrings) {
  // Each rank holds ids into one dictionary; the file must equal a string column of values[id]
  // (width: the longest value used on any rank, not the longest in the dictionary).
  const Comm comm(MPI_COMM_WORLD);
  const auto path = shared_temp_path(comm, "dictionary");
  const std::vector<std::string_view> values = {"alpha", "b", "a value nobody uses", "gamma-delta"};
  const Schema ids_schema = {{"key", ColumnType::Int64}, {"n", ColumnType::Int64}};
  Table mine(ids_schema);
  std::vector<std::string> expected;
  for (int r = 0; r < comm.size(); ++r)
    for (int k = 0; k < 2 + r; ++k) {
      const std::int64_t id = (r + k) % 2 == 0 ? 0 : (k == 2 ? 3 : 1);
      if (r == comm.rank()) {
        mine.ints(0).push_back(id);
        mine.ints(1).push_back(k);
        mine.commit_row();
      }
      expected.emplace_back(values[static_cast<std::size_t>(id)]);
    }
  write_zone(comm, path, mine, {{"zone", std::string("dictionary")}}, {}, {}, {{0, values}});
  if (comm.is_root()) {
    const ZoneFile zone = read_zone(path);
    ASSERT_EQ(zone.rows, static_cast<std::int64_t>(expected.size()));
    EXPECT_EQ(zone.columns[0].type, ColumnType::String);
    EXPECT_FALSE(zone.columns[0].has_null_value);
    EXPECT_TRUE(zone.columns[1].has_null_value);
    std::size_t longest = 1;
    for (const auto& text : expected) longest = std::max(longest, text.size());
    EXPECT_EQ(zone.columns[0].string_width, longest);
    for (std::size_t r = 0; r < expected.size(); ++r) EXPECT_EQ(zone.table.strings(0)[r], expected[r]) << r;
    std::filesystem::remove(path);
  }
  // An id outside the dictionary on one rank stops every rank with one error, and no file.
  Table bad(ids_schema);
  bad.ints(0).push_back(comm.rank() == comm.size() - 1 ? 7 : 0);
  bad.ints(1).push_back(0);
  bad.commit_row();
  EXPECT_THROW(write_zone(comm, path, bad, {{"zone", std::string("dictionary")}}, {}, {}, {{0, values}}),
               std::exception);
  comm.barrier();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(temporary_path_for(path)));
}

TEST(ZoneWriter, ReplacesAnExistingFileAtomically) {
  check_round_trip("replace", [](int) -> std::size_t { return 2; });
  check_round_trip("replace", [](int rank) -> std::size_t { return rank == 0 ? 1 : 0; });
}

}  // namespace
}  // namespace mpilake
