// Spill files: random tables round-trip block by block against the input; a flipped byte, a cut
// file and a full disk (a 64 KiB tmpfs) give their one-line errors; the scratch folder goes away.
#include "mpilake/io/spill_file.hpp"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "../error_of.hpp"

namespace mpilake {
namespace {

const Schema kSchema = {{"key", ColumnType::Int64}, {"x", ColumnType::Float64}, {"id", ColumnType::Int64}};

std::filesystem::path test_root() {
  return std::filesystem::temp_directory_path() / ("mpilake_spill_test_" + std::to_string(::getpid()));
}

std::filesystem::path test_folder(const std::string& name) {
  return test_root() / name;
}

// Removes what the tests leave under test_root() (the tests' own folders are gone already).
class RemoveTestRoot : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(test_root(), ignored);
  }
};
[[maybe_unused]] const auto* const kRemoveTestRoot = ::testing::AddGlobalTestEnvironment(new RemoveTestRoot);

Table random_table(std::mt19937_64& random, std::size_t rows) {
  const double specials[] = {0.0, -0.0, std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::denorm_min()};
  Table table(kSchema);
  for (std::size_t r = 0; r < rows; ++r) {
    table.ints(0).push_back(random() % 5 == 0 ? kNullInt64 : static_cast<std::int64_t>(random()));
    table.floats(1).push_back(random() % 7 == 0 ? specials[random() % 5] : static_cast<double>(random()) / 3.0);
    table.ints(2).push_back(static_cast<std::int64_t>(r));
    table.commit_row();
  }
  return table;
}

// Bit for bit (NaN and -0.0 included).
void expect_same_block(const Table& expected, const Table& actual, std::size_t block) {
  ASSERT_TRUE(same_schema(expected.schema(), actual.schema())) << block;
  ASSERT_EQ(expected.num_rows(), actual.num_rows()) << block;
  for (std::size_t r = 0; r < expected.num_rows(); ++r) {
    EXPECT_EQ(expected.ints(0)[r], actual.ints(0)[r]) << block << ":" << r;
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, &expected.floats(1)[r], 8);
    std::memcpy(&b, &actual.floats(1)[r], 8);
    EXPECT_EQ(a, b) << block << ":" << r;
    EXPECT_EQ(expected.ints(2)[r], actual.ints(2)[r]) << block << ":" << r;
  }
}

std::vector<Table> read_all(const std::filesystem::path& path, const Schema& schema = kSchema) {
  SpillReader reader(path, schema);
  std::vector<Table> blocks;
  Table block;
  while (reader.next(block)) blocks.push_back(std::move(block));
  return blocks;
}

// Writes `sizes` blocks of random rows to folder/name; returns them.
std::vector<Table> write_blocks(ScratchFolder& folder, const std::string& name, const std::vector<std::size_t>& sizes,
                                std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<Table> blocks;
  SpillWriter writer(folder, name, kSchema);
  for (const std::size_t rows : sizes) {
    blocks.push_back(random_table(random, rows));
    writer.append(blocks.back());
  }
  writer.close();
  return blocks;
}

using mpilake::test_support::error_of;

TEST(SpillFile, RandomBlocksRoundTripInWriteOrder) {
  ScratchFolder folder(test_folder("round_trip"));
  std::mt19937_64 random(11);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::size_t> sizes;
    const std::size_t count = random() % 6;  // also a file without blocks
    for (std::size_t b = 0; b < count; ++b) sizes.push_back(random() % 4 == 0 ? 0 : random() % 3000);
    const std::string name = "part-" + std::to_string(round);
    const std::vector<Table> written = write_blocks(folder, name, sizes, random());
    const std::vector<Table> read = read_all(folder.file(name));
    ASSERT_EQ(read.size(), written.size()) << round;
    for (std::size_t b = 0; b < read.size(); ++b) expect_same_block(written[b], read[b], b);
    // Reading into one Table again and again (its memory reused) gives the same blocks.
    SpillReader reader(folder.file(name), kSchema);
    Table block;
    for (std::size_t b = 0; b < written.size(); ++b) {
      ASSERT_TRUE(reader.next(block)) << b;
      expect_same_block(written[b], block, b);
    }
    EXPECT_FALSE(reader.next(block));
  }
  // The counter holds every byte of every file (headers, payloads, end records).
  std::int64_t on_disk = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder.path()))
    on_disk += static_cast<std::int64_t>(entry.file_size());
  EXPECT_EQ(folder.bytes_spilled(), on_disk);
}

TEST(SpillFile, ZeroRowBlocks) {
  ScratchFolder folder(test_folder("empty"));
  const std::vector<Table> written = write_blocks(folder, "zeros", {0, 0, 5, 0}, 3);
  const std::vector<Table> read = read_all(folder.file("zeros"));
  ASSERT_EQ(read.size(), 4u);
  for (std::size_t b = 0; b < 4; ++b) expect_same_block(written[b], read[b], b);
  EXPECT_EQ(std::filesystem::file_size(folder.file("zeros")), 5 * kSpillBlockHeaderBytes + 5 * 3 * 8);
}

TEST(SpillFile, TablesWithoutColumnsKeepTheirRowCounts) {
  ScratchFolder folder(test_folder("no_columns"));
  SpillWriter writer(folder, "n", {});
  const std::vector<std::size_t> sizes = {5, 0, 3};
  for (const std::size_t rows : sizes) {
    Table table{Schema{}};
    for (std::size_t r = 0; r < rows; ++r) table.commit_row();
    writer.append(table);
  }
  writer.close();
  SpillReader reader(folder.file("n"), {});
  Table block;
  for (const std::size_t rows : sizes) {
    ASSERT_TRUE(reader.next(block));
    EXPECT_EQ(block.num_rows(), rows);
  }
  EXPECT_FALSE(reader.next(block));
}

const Schema kStringSchema = {{"name", ColumnType::String}, {"n", ColumnType::Int64}, {"raw", ColumnType::String}};

// Strings of 0 to 300 bytes, NUL and high bytes included, about one in five empty.
std::string random_text(std::mt19937_64& random) {
  if (random() % 5 == 0) return {};
  std::string text(random() % 300, '\0');
  for (char& c : text) c = static_cast<char>(random() % 256);
  return text;
}

Table random_string_table(std::mt19937_64& random, std::size_t rows) {
  Table table(kStringSchema);
  for (std::size_t r = 0; r < rows; ++r) {
    table.strings(0).push_back(random_text(random));
    table.ints(1).push_back(static_cast<std::int64_t>(random()));
    table.strings(2).push_back(random_text(random));
    table.commit_row();
  }
  return table;
}

// Compared as std::string values, row by row, against the table that was written.
void expect_same_string_block(const Table& expected, const Table& actual, std::size_t block) {
  ASSERT_TRUE(same_schema(expected.schema(), actual.schema())) << block;
  ASSERT_EQ(expected.num_rows(), actual.num_rows()) << block;
  for (std::size_t r = 0; r < expected.num_rows(); ++r) {
    EXPECT_EQ(std::string(expected.strings(0)[r]), std::string(actual.strings(0)[r])) << block << ":" << r;
    EXPECT_EQ(expected.ints(1)[r], actual.ints(1)[r]) << block << ":" << r;
    EXPECT_EQ(std::string(expected.strings(2)[r]), std::string(actual.strings(2)[r])) << block << ":" << r;
  }
}

TEST(SpillFile, StringColumnsRoundTrip) {
  ScratchFolder folder(test_folder("strings"));
  std::mt19937_64 random(29);
  for (int round = 0; round < 10; ++round) {
    const std::string name = "s-" + std::to_string(round);
    std::vector<Table> written;
    {
      SpillWriter writer(folder, name, kStringSchema);
      const std::size_t count = random() % 5;
      for (std::size_t b = 0; b < count; ++b) {
        written.push_back(random_string_table(random, random() % 4 == 0 ? 0 : random() % 400));
        writer.append(written.back());
      }
      writer.close();
      // Every block is its header, 8 bytes per row and column, and each string column's bytes
      // padded to 8; then the end record.
      std::uint64_t expected_size = kSpillBlockHeaderBytes;
      for (const Table& t : written) {
        expected_size += kSpillBlockHeaderBytes + t.num_rows() * 3 * 8;
        for (const std::size_t c : {std::size_t{0}, std::size_t{2}}) {
          std::uint64_t bytes = 0;
          for (std::size_t r = 0; r < t.num_rows(); ++r) bytes += t.strings(c)[r].size();
          expected_size += (bytes + 7) / 8 * 8;
        }
      }
      EXPECT_EQ(std::filesystem::file_size(folder.file(name)), expected_size) << round;
    }
    // Read into one reused table: the strings of a longer block must not leak into a shorter one.
    SpillReader reader(folder.file(name), kStringSchema);
    Table block;
    for (std::size_t b = 0; b < written.size(); ++b) {
      ASSERT_TRUE(reader.next(block)) << round << ":" << b;
      expect_same_string_block(written[b], block, b);
    }
    EXPECT_FALSE(reader.next(block));
  }
}

TEST(SpillFile, AFlippedByteInAStringBlockIsReported) {
  ScratchFolder folder(test_folder("string_flip"));
  std::mt19937_64 random(31);
  const Table written = random_string_table(random, 8);
  {
    SpillWriter writer(folder, "f", kStringSchema);
    writer.append(written);
    writer.close();
  }
  const auto path = folder.file("f");
  std::string original;
  {
    std::ifstream in(path, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Every byte flipped in place, one at a time (as AnyFlippedByteIsReported).
  const auto put_byte = [&](std::size_t at, char value) {
    std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(at));
    file.put(value);
  };
  for (std::size_t at = 0; at < original.size(); ++at) {
    put_byte(at, static_cast<char>(original[at] ^ 0x10));
    const std::string error = error_of([&] { read_all(path, kStringSchema); });
    EXPECT_EQ(error.rfind("corrupt spill file " + path.string() + ": block ", 0), 0u) << at << ": " << error;
    put_byte(at, original[at]);
  }
  // An offset of the first string column made to run past the payload: caught before it sizes
  // anything (the checksum comes after).
  std::string bytes = original;
  const std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(bytes.data() + kSpillBlockHeaderBytes + 3 * 8, &huge, 8);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(error_of([&] { read_all(path, kStringSchema); }),
            "corrupt spill file " + path.string() + ": block 0 checksum mismatch (string offsets out of order)");
  // A reader expecting int64 where the file has strings.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << original;
  EXPECT_EQ(error_of([&] {
              read_all(path, {{"name", ColumnType::Int64}, {"n", ColumnType::Int64}, {"raw", ColumnType::String}});
            }),
            "corrupt spill file " + path.string() + ": block 0 has other column types than the reader expects");
}

TEST(SpillFile, AnyFlippedByteIsReported) {
  ScratchFolder folder(test_folder("flip"));
  write_blocks(folder, "f", {10, 20, 30}, 5);
  const auto path = folder.file("f");
  std::string original;
  {
    std::ifstream in(path, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::size_t header = kSpillBlockHeaderBytes;
  const std::size_t block1 = header + 10 * 24, block2 = block1 + header + 20 * 24;
  // Every byte of the file, flipped one at a time, gives an error and never a different table.
  // (In place, one byte at a time: rewriting a truncated file would make ext4 flush it every time.)
  const auto put_byte = [&](std::size_t at, char value) {
    std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(at));
    file.put(value);
  };
  for (std::size_t at = 0; at < original.size(); ++at) {
    put_byte(at, static_cast<char>(original[at] ^ 0x10));
    const std::string error = error_of([&] { read_all(path); });
    EXPECT_EQ(error.rfind("corrupt spill file " + path.string() + ": block ", 0), 0u) << at << ": " << error;
    put_byte(at, original[at]);
  }
  EXPECT_EQ(read_all(path).size(), 3u);
  // A payload byte of block 2: exactly the checksum line.
  std::string bytes = original;
  bytes[block2 + header + 17] ^= 1;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(error_of([&] { read_all(path); }), "corrupt spill file " + path.string() + ": block 2 checksum mismatch");
  // The magic of block 1.
  bytes = original;
  bytes[block1] = 'X';
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(error_of([&] { read_all(path); }), "corrupt spill file " + path.string() + ": block 1 bad magic");
  // A row count in a header.
  bytes = original;
  bytes[block1 + 8] ^= 1;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(error_of([&] { read_all(path); }),
            "corrupt spill file " + path.string() + ": block 1 header checksum mismatch");
}

TEST(SpillFile, ATruncatedFileIsReported) {
  ScratchFolder folder(test_folder("truncate"));
  write_blocks(folder, "t", {10, 20, 30}, 6);
  const auto path = folder.file("t");
  const auto size = std::filesystem::file_size(path);
  const std::size_t header = kSpillBlockHeaderBytes;
  const std::size_t block1 = header + 10 * 24, block2 = block1 + header + 20 * 24, end = block2 + header + 30 * 24;
  ASSERT_EQ(size, end + header);
  const std::string prefix = "corrupt spill file " + path.string() + ": block ";
  const std::string original = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  const auto cut_at = [&](std::size_t length) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << original.substr(0, length);
    return error_of([&] { read_all(path); });
  };
  EXPECT_EQ(cut_at(block1 + 7), prefix + "1 truncated (header: 7 of 40 bytes)");
  EXPECT_EQ(cut_at(block2 + header + 100), prefix + "2 truncated (payload: 100 of 720 bytes)");
  // Cut at a block boundary or before the end record: the missing end record shows it.
  EXPECT_EQ(cut_at(block2), prefix + "2 truncated (the file ends without its end record after 2 blocks)");
  EXPECT_EQ(cut_at(end), prefix + "3 truncated (the file ends without its end record after 3 blocks)");
  EXPECT_EQ(cut_at(0), prefix + "0 truncated (the file ends without its end record after 0 blocks)");
  // Complete again: reads.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << original;
  EXPECT_EQ(read_all(path).size(), 3u);
  // Bytes after the end record.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << original << original.substr(0, 50);
  EXPECT_EQ(error_of([&] { read_all(path); }), prefix + "3 follows the end record");
  // A writer that was never closed leaves no end record.
  {
    SpillWriter writer(folder, "unclosed", kSchema);
    std::mt19937_64 random(1);
    writer.append(random_table(random, 4));
  }
  EXPECT_EQ(error_of([&] { read_all(folder.file("unclosed")); }),
            "corrupt spill file " + folder.file("unclosed").string() +
                ": block 1 truncated (the file ends without its end record after 1 blocks)");
}

TEST(SpillFile, AReaderWithAnotherSchemaRefusesTheBlocks) {
  ScratchFolder folder(test_folder("schema"));
  write_blocks(folder, "s", {3}, 8);
  const auto path = folder.file("s");
  EXPECT_EQ(error_of([&] {
              read_all(path, {{"key", ColumnType::Int64}});
            }),
            "corrupt spill file " + path.string() + ": block 0 has 3 columns, the reader expects 1");
  EXPECT_EQ(error_of([&] {
              read_all(path, {{"key", ColumnType::Int64}, {"x", ColumnType::Int64}, {"id", ColumnType::Int64}});
            }),
            "corrupt spill file " + path.string() + ": block 0 has other column types than the reader expects");
}

TEST(ScratchFolder, RemovedWithItsFilesOnDestructionAndOnException) {
  const auto path = test_folder("scoped") / ".mpilake.scratch" / "rank-0";
  {
    ScratchFolder folder(path);
    EXPECT_TRUE(std::filesystem::is_directory(path));
    write_blocks(folder, "a", {100}, 1);
    std::filesystem::create_directory(folder.file("sub"));
    std::ofstream(folder.file("sub") / "b") << "x";
    EXPECT_GT(folder.bytes_spilled(), 0);
  }
  EXPECT_FALSE(std::filesystem::exists(path));

  EXPECT_THROW(
      {
        ScratchFolder folder(path);
        SpillWriter writer(folder, "a", kSchema);
        std::mt19937_64 random(2);
        writer.append(random_table(random, 50));
        throw std::runtime_error("a failure in the middle of a pass");
      },
      std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(path));

  // A folder left by a killed run is emptied, not merged with.
  std::filesystem::create_directories(path);
  std::ofstream(path / "stale") << "old";
  {
    ScratchFolder folder(path);
    EXPECT_FALSE(std::filesystem::exists(path / "stale"));
    EXPECT_EQ(folder.bytes_spilled(), 0);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ScratchFolder, TheLastRankFolderTakesTheSharedParentWithIt) {
  const auto scratch = test_folder("shared");
  std::filesystem::create_directories(scratch);
  EXPECT_EQ(ScratchFolder::rank_folder(scratch, 3), scratch / ".mpilake.scratch" / "rank-3");
  {
    std::optional<ScratchFolder> rank0(std::in_place, ScratchFolder::rank_folder(scratch, 0));
    {
      ScratchFolder rank1(ScratchFolder::rank_folder(scratch, 1));
      write_blocks(rank1, "a", {3}, 1);
    }
    EXPECT_FALSE(std::filesystem::exists(ScratchFolder::rank_folder(scratch, 1)));
    EXPECT_TRUE(std::filesystem::is_directory(ScratchFolder::rank_folder(scratch, 0)));
    rank0.reset();
  }
  EXPECT_FALSE(std::filesystem::exists(scratch / ".mpilake.scratch"));
  EXPECT_TRUE(std::filesystem::is_directory(scratch));  // the user's folder stays
  // A folder elsewhere leaves its parent alone, even an empty one.
  { ScratchFolder plain(scratch / "mine" / "rank-0"); }
  EXPECT_TRUE(std::filesystem::is_directory(scratch / "mine"));
  std::filesystem::remove_all(scratch);
}

TEST(ScratchFolder, AnUncreatableFolderIsOneLine) {
  const auto file = test_folder("blocker");
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << "a file, not a folder";
  const std::string error = error_of([&] { ScratchFolder folder(file / "rank-0"); });
  EXPECT_EQ(error.rfind("cannot create scratch folder " + (file / "rank-0").string() + ": ", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
  std::filesystem::remove(file);
}

TEST(SpillFile, AFullScratchDiskIsOneClearLine) {
  const auto mount_point = test_folder("tmpfs");
  std::filesystem::create_directories(mount_point);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=64k") != 0) {
    const int error = errno;
    std::filesystem::remove(mount_point);
    GTEST_SKIP() << "cannot mount a 64 KiB tmpfs (needs root): " << std::strerror(error);
  }
  std::string error;
  std::int64_t spilled = 0;
  std::filesystem::path file;
  {
    ScratchFolder folder(mount_point / "rank-0");
    file = folder.file("part-0");
    SpillWriter writer(folder, "part-0", kSchema);
    std::mt19937_64 random(4);
    const Table block = random_table(random, 500);  // 12 KB a block: the sixth does not fit
    error = error_of([&] {
      for (int b = 0; b < 100; ++b) writer.append(block);
    });
    spilled = folder.bytes_spilled();
    EXPECT_GT(writer.blocks(), 0);
    EXPECT_LT(writer.blocks(), 100);
    EXPECT_EQ(spilled, writer.bytes());
  }
  EXPECT_TRUE(std::filesystem::is_empty(mount_point));  // the folder went with its partial file
  ASSERT_EQ(::umount2(mount_point.c_str(), MNT_DETACH), 0) << std::strerror(errno);
  std::filesystem::remove(mount_point);
  EXPECT_EQ(error, "scratch disk full: " + file.string() + " (" + std::to_string(spilled) +
                       " bytes spilled on this rank); free space or pass --scratch DIR");
}

}  // namespace
}  // namespace mpilake
