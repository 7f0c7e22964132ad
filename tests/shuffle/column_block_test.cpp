// The columnar block codec: random rows (NUL bytes and empty strings included) encoded in blocks and
// decoded into place must equal the same rows taken one by one; broken blocks are refused.
#include "mpilake/shuffle/column_block.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace mpilake {
namespace {

const Schema kSchema = {
    {"s", ColumnType::String}, {"i", ColumnType::Int64}, {"t", ColumnType::String}, {"f", ColumnType::Float64}};

Table random_table(std::mt19937_64& random, std::size_t rows) {
  Table table(kSchema);
  for (std::size_t r = 0; r < rows; ++r) {
    for (const std::size_t c : {0, 2}) {
      std::string text(random() % 13, 'x');
      for (auto& ch : text) ch = static_cast<char>(random() % 256);
      table.strings(c).push_back(text);
    }
    table.ints(1).push_back(static_cast<std::int64_t>(random()));
    table.floats(3).push_back(static_cast<double>(random() % 1000) / 8);
    table.commit_row();
  }
  return table;
}

// A table sized for `rows` rows and `text` string bytes per string column, as exchange_rows sizes
// its result.
Table sized(std::size_t rows, std::size_t text0, std::size_t text2) {
  Table table(kSchema);
  table.strings(0).resize_for_fill(rows, text0);
  table.ints(1).resize(rows);
  table.strings(2).resize_for_fill(rows, text2);
  table.floats(3).resize(rows);
  table.set_rows_from_columns();
  return table;
}

TEST(ColumnBlock, BlocksDecodeIntoPlaceLikePerRowCopies) {
  std::mt19937_64 random(31);
  const Table table = random_table(random, 300);
  // Two blocks with rows picked out of order (as after grouping by destination).
  std::vector<std::size_t> first, second;
  for (std::size_t r = table.num_rows(); r-- > 0;) (random() % 3 == 0 ? first : second).push_back(r);
  std::string bytes(column_block_bytes(table, first) + column_block_bytes(table, second), '\0');
  encode_column_block(table, first, bytes.data());
  encode_column_block(table, second, bytes.data() + column_block_bytes(table, first));

  std::vector<std::size_t> all = first;
  all.insert(all.end(), second.begin(), second.end());
  const Table expected = table.take(all);
  Table got = sized(all.size(), expected.strings(0).byte_size(), expected.strings(2).byte_size());
  BlockCursor cursor{0, {0, 0}};
  const char* at = decode_column_block(bytes.data(), bytes.data() + bytes.size(), got, cursor);
  at = decode_column_block(at, bytes.data() + bytes.size(), got, cursor);
  EXPECT_EQ(at, bytes.data() + bytes.size());
  EXPECT_EQ(cursor.row, all.size());
  for (std::size_t r = 0; r < all.size(); ++r) {
    ASSERT_EQ(got.strings(0)[r], expected.strings(0)[r]);
    ASSERT_EQ(got.ints(1)[r], expected.ints(1)[r]);
    ASSERT_EQ(got.strings(2)[r], expected.strings(2)[r]);
    ASSERT_EQ(got.floats(3)[r], expected.floats(3)[r]);
  }
}

TEST(ColumnBlock, TruncatedOrOversizedBlocksAreRefused) {
  std::mt19937_64 random(32);
  const Table table = random_table(random, 20);
  std::vector<std::size_t> all(table.num_rows());
  for (std::size_t r = 0; r < all.size(); ++r) all[r] = r;
  std::string bytes(column_block_bytes(table, all), '\0');
  encode_column_block(table, all, bytes.data());
  {
    Table got = sized(all.size(), table.strings(0).byte_size(), table.strings(2).byte_size());
    BlockCursor cursor{0, {0, 0}};
    EXPECT_THROW(decode_column_block(bytes.data(), bytes.data() + bytes.size() - 9, got, cursor), std::runtime_error);
  }
  {
    Table got = sized(all.size() - 1, table.strings(0).byte_size(), table.strings(2).byte_size());
    BlockCursor cursor{0, {0, 0}};
    EXPECT_THROW(decode_column_block(bytes.data(), bytes.data() + bytes.size(), got, cursor), std::runtime_error);
  }
}

}  // namespace
}  // namespace mpilake
