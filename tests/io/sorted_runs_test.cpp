// SortedRuns: random rows (string keys with many ties, an int key, a payload naming each row's place
// of arrival) come back in the order of a plain std::stable_sort of all of them, whether kept in
// memory, spilled in a few runs, or in more runs than one merge takes (merged in levels); chunks of
// any size; spill files gone at the end; a corrupt run gives its spill-file line.
#include "mpilake/io/sorted_runs.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "../error_of.hpp"

namespace mpilake {
namespace {

const Schema kSchema = {{"group", ColumnType::String},
                        {"n", ColumnType::Int64},
                        {"arrival", ColumnType::Int64},
                        {"text", ColumnType::String}};

const std::filesystem::path& process_folder() {
  static const struct Folder {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("mpilake_sorted_runs_test_" + std::to_string(::getpid()));
    ~Folder() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } folder;
  return folder.path;
}

// The order under test: (group, n), nothing else; rows equal in both keep their arrival order.
bool group_then_n(const Table& a, std::size_t i, const Table& b, std::size_t j) {
  return std::make_tuple(a.strings(0)[i], a.ints(1)[i]) < std::make_tuple(b.strings(0)[j], b.ints(1)[j]);
}

struct Row {
  std::string group;
  std::int64_t n;
  std::int64_t arrival;
  std::string text;
  bool operator==(const Row&) const = default;
};

std::vector<Row> random_rows(std::mt19937_64& random, std::size_t count) {
  std::vector<Row> rows;
  for (std::size_t r = 0; r < count; ++r) {
    Row row;
    row.group = std::string(1 + random() % 3, static_cast<char>('a' + random() % 4));  // many ties
    row.n = static_cast<std::int64_t>(random() % 20) - 10;
    row.arrival = static_cast<std::int64_t>(r);
    row.text = std::string(random() % 120, static_cast<char>('A' + random() % 26));
    rows.push_back(row);
  }
  return rows;
}

// The reference: std::stable_sort by (group, n).
std::vector<Row> reference_order(std::vector<Row> rows) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return std::tie(a.group, a.n) < std::tie(b.group, b.n); });
  return rows;
}

void add_rows(SortedRuns& runs, const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    Table& tail = runs.tail();
    tail.strings(0).push_back(row.group);
    tail.ints(1).push_back(row.n);
    tail.ints(2).push_back(row.arrival);
    tail.strings(3).push_back(row.text);
    tail.commit_row();
    runs.after_append();
  }
}

// Adds `rows`, finishes, reads back in chunks of `chunk` rows.
std::vector<Row> sort_with(SortedRuns& runs, const std::vector<Row>& rows, std::size_t chunk) {
  add_rows(runs, rows);
  EXPECT_EQ(runs.rows(), static_cast<std::int64_t>(rows.size()));
  runs.finish();
  std::vector<Row> back;
  Table block;
  while (true) {
    runs.next(chunk, block);
    if (block.num_rows() == 0) break;
    EXPECT_LE(block.num_rows(), chunk);
    for (std::size_t r = 0; r < block.num_rows(); ++r)
      back.push_back(
          {std::string(block.strings(0)[r]), block.ints(1)[r], block.ints(2)[r], std::string(block.strings(3)[r])});
  }
  return back;
}

TEST(SortedRuns, InMemoryIsAStableSort) {
  std::mt19937_64 random(5);
  for (const std::size_t count : {0, 1, 7, 500}) {
    const std::vector<Row> rows = random_rows(random, count);
    SortedRuns runs(kSchema, group_then_n, nullptr, "m", 0);
    EXPECT_EQ(sort_with(runs, rows, 1 + random() % 50), reference_order(rows)) << count;
    EXPECT_EQ(runs.runs_written(), 0);
  }
}

TEST(SortedRuns, SpilledRunsMergeToTheSameOrder) {
  std::mt19937_64 random(7);
  const auto folder_path = process_folder() / "spilled";
  // Budgets from one row per run to a few runs; 3000 rows of about 90 bytes. One row per run gives
  // 3000 runs: merged in levels of kFanIn.
  for (const std::size_t memory_bytes : {1, 2000, 20000, 100000, 1000000}) {
    ScratchFolder folder(folder_path);
    const std::vector<Row> rows = random_rows(random, 3000);
    std::int64_t runs_written = 0;
    {
      SortedRuns runs(kSchema, group_then_n, &folder, "q", memory_bytes);
      EXPECT_EQ(sort_with(runs, rows, 1 + random() % 700), reference_order(rows)) << memory_bytes;
      runs_written = runs.runs_written();
      if (memory_bytes < 100000) {
        EXPECT_GT(runs_written, 1) << memory_bytes;
      }
      if (memory_bytes == 1) {
        EXPECT_GT(runs_written, 3000) << "the level merges write runs of their own";
      }
    }
    // Its files are gone with it.
    EXPECT_TRUE(std::filesystem::is_empty(folder.path())) << memory_bytes;
  }
}

TEST(SortedRuns, ACorruptRunIsReported) {
  std::mt19937_64 random(9);
  ScratchFolder folder(process_folder() / "corrupt");
  SortedRuns runs(kSchema, group_then_n, &folder, "c", 4000);
  add_rows(runs, random_rows(random, 400));
  ASSERT_GT(runs.runs_written(), 1);
  // Flip a payload byte near the end of the first run (past its first block, read only later).
  const auto path = folder.file("c-run-0");
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() - kSpillBlockHeaderBytes - 3] ^= 1;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  const std::string error = test_support::error_of([&] {
    runs.finish();
    Table block;
    do runs.next(100, block);
    while (block.num_rows() > 0);
  });
  EXPECT_EQ(error.rfind("corrupt spill file " + path.string() + ": block ", 0), 0u) << error;
  EXPECT_NE(error.find("checksum mismatch"), std::string::npos) << error;
}

}  // namespace
}  // namespace mpilake
