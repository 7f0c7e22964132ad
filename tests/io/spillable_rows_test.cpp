// SpillableRows: the same rows come back, in append order, whether held in memory or spilled in
// blocks of a fixed row count; a spilled block never exceeds the block size except by the last
// append; errors of the file come out of next() as spill-file lines.
#include "mpilake/io/spillable_rows.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../error_of.hpp"

namespace mpilake {
namespace {

const Schema kSchema = {{"key", ColumnType::Int64}, {"x", ColumnType::Float64}};

// This process's folder under the temp directory; the tests' ScratchFolders remove their own folders
// inside it, and it goes when the test program ends.
const std::filesystem::path& process_folder() {
  static const struct Folder {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("mpilake_spillable_test_" + std::to_string(::getpid()));
    ~Folder() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } folder;
  return folder.path;
}

std::filesystem::path test_folder(const std::string& name) {
  return process_folder() / name;
}

// The reference: every appended row, in order, as plain vectors.
struct Rows {
  std::vector<std::int64_t> keys;
  std::vector<double> xs;
};

// Appends batches of random sizes (zero included) to `rows`, calling after_append after each, as a
// parse sink does; returns what was appended.
Rows fill(SpillableRows& rows, std::mt19937_64& random, std::size_t batches) {
  Rows appended;
  for (std::size_t b = 0; b < batches; ++b) {
    const std::size_t count = random() % 40;
    for (std::size_t i = 0; i < count; ++i) {
      const auto key = static_cast<std::int64_t>(random());
      const double x = static_cast<double>(random() % 1000) / 7.0;
      rows.tail().ints(0).push_back(key);
      rows.tail().floats(1).push_back(x);
      rows.tail().commit_row();
      appended.keys.push_back(key);
      appended.xs.push_back(x);
    }
    rows.after_append();
  }
  rows.close();
  return appended;
}

Rows read_back(const SpillableRows& rows, std::vector<std::size_t>& block_sizes) {
  Rows back;
  auto blocks = rows.blocks_in_order();
  while (const Table* block = blocks.next()) {
    block_sizes.push_back(block->num_rows());
    back.keys.insert(back.keys.end(), block->ints(0).begin(), block->ints(0).end());
    back.xs.insert(back.xs.end(), block->floats(1).begin(), block->floats(1).end());
  }
  return back;
}

TEST(SpillableRows, InMemoryAndSpilledGiveTheSameRowsInOrder) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const std::size_t block_rows = 1 + seed * 7 % 61;
    std::mt19937_64 random_memory(seed), random_spill(seed);
    SpillableRows memory(kSchema, nullptr, "rows", block_rows);
    ScratchFolder folder(test_folder("seed-" + std::to_string(seed)));
    SpillableRows spilled(kSchema, &folder, "rows", block_rows);
    ASSERT_FALSE(memory.spilling());
    ASSERT_TRUE(spilled.spilling());
    const Rows expected = fill(memory, random_memory, 30);
    ASSERT_EQ(expected.keys, fill(spilled, random_spill, 30).keys);  // same random batches

    std::vector<std::size_t> memory_blocks, spilled_blocks;
    const Rows from_memory = read_back(memory, memory_blocks);
    const Rows from_spill = read_back(spilled, spilled_blocks);
    EXPECT_EQ(from_memory.keys, expected.keys) << seed;
    EXPECT_EQ(from_memory.xs, expected.xs) << seed;
    EXPECT_EQ(from_spill.keys, expected.keys) << seed;
    EXPECT_EQ(from_spill.xs, expected.xs) << seed;
    EXPECT_EQ(memory_blocks.size(), 1U);
    EXPECT_EQ(static_cast<std::int64_t>(spilled_blocks.size()), spilled.blocks());
    EXPECT_EQ(spilled.rows(), static_cast<std::int64_t>(expected.keys.size()));
    // A block is spilled as soon as it holds block_rows rows: at most block_rows + one batch (< 40).
    for (const std::size_t size : spilled_blocks) EXPECT_LT(size, block_rows + 40) << seed;
    EXPECT_GT(spilled.bytes_spilled(), 0);
    EXPECT_EQ(spilled.bytes_spilled(), folder.bytes_spilled());
    EXPECT_EQ(memory.bytes_spilled(), 0);
  }
}

TEST(SpillableRows, NoRowsGiveOneEmptyBlock) {
  ScratchFolder folder(test_folder("empty"));
  SpillableRows spilled(kSchema, &folder, "rows", 10);
  spilled.close();
  std::vector<std::size_t> sizes;
  EXPECT_TRUE(read_back(spilled, sizes).keys.empty());
  EXPECT_EQ(sizes, std::vector<std::size_t>{0});
  EXPECT_EQ(spilled.rows(), 0);
}

TEST(SpillableRows, ReadingBeforeCloseIsRefused) {
  SpillableRows memory(kSchema, nullptr, "rows", 10);
  EXPECT_THROW(memory.blocks_in_order(), std::logic_error);
}

TEST(SpillableRows, ACorruptSpillFileGivesItsLineFromNext) {
  ScratchFolder folder(test_folder("corrupt"));
  SpillableRows spilled(kSchema, &folder, "rows", 5);
  std::mt19937_64 random(3);
  fill(spilled, random, 10);
  ASSERT_GT(spilled.blocks(), 1);
  {
    // Flip one payload byte of the first block (past its 40-byte header).
    std::fstream file(folder.file("rows"), std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(45);
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    file.seekp(45);
    file.write(&byte, 1);
  }
  auto blocks = spilled.blocks_in_order();
  const std::string error = test_support::error_of([&] { blocks.next(); });
  EXPECT_EQ(error.rfind("corrupt spill file " + folder.file("rows").string() + ": block 0", 0), 0U) << error;
}

}  // namespace
}  // namespace mpilake
