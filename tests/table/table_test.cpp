// Table operations and the row codec, checked on random tables against plain per-row copies.
#include "mpilake/table/table.hpp"

#include <gtest/gtest.h>

#include <random>

#include "mpilake/table/row_codec.hpp"

namespace mpilake {
namespace {

const Schema kSchema = {{"i", ColumnType::Int64}, {"s", ColumnType::String}, {"f", ColumnType::Float64}};

Table random_table(std::mt19937_64& random, std::size_t rows) {
  Table table(kSchema);
  for (std::size_t r = 0; r < rows; ++r) {
    table.ints(0).push_back(random() % 3 == 0 ? kNullInt64 : static_cast<std::int64_t>(random()));
    std::string text(random() % 20, 'a');
    for (auto& c : text) c = static_cast<char>(random() % 256);  // any bytes, NUL included
    table.strings(1).push_back(text);
    table.floats(2).push_back(static_cast<double>(random()) / 7.0);
    table.commit_row();
  }
  return table;
}

void expect_same_rows(const Table& a, const Table& b) {
  ASSERT_EQ(a.num_rows(), b.num_rows());
  for (std::size_t r = 0; r < a.num_rows(); ++r) {
    EXPECT_EQ(a.ints(0)[r], b.ints(0)[r]);
    EXPECT_EQ(a.strings(1)[r], b.strings(1)[r]);
    EXPECT_EQ(a.floats(2)[r], b.floats(2)[r]);
  }
}

TEST(RowCodec, RoundTripsRandomRows) {
  std::mt19937_64 random(3);
  const Table table = random_table(random, 500);
  std::string bytes;
  for (std::size_t r = 0; r < table.num_rows(); ++r) {
    const auto at = bytes.size();
    bytes.resize(at + encoded_row_size(table, r));
    EXPECT_EQ(encode_row(table, r, bytes.data() + at), bytes.data() + bytes.size());
  }
  EXPECT_EQ(encode_rows(table), bytes);
  Table decoded(kSchema);
  decode_rows(decoded, bytes);
  expect_same_rows(table, decoded);
}

TEST(RowCodec, TruncatedInputThrows) {
  std::mt19937_64 random(4);
  const Table table = random_table(random, 1);
  std::string bytes(encoded_row_size(table, 0), '\0');
  encode_row(table, 0, bytes.data());
  Table decoded(kSchema);
  EXPECT_THROW(decode_rows(decoded, std::string_view(bytes).substr(0, bytes.size() - 1)), std::runtime_error);
}

TEST(Table, TakeAppendAndAppendRowAgreeWithPerRowCopies) {
  std::mt19937_64 random(5);
  const Table table = random_table(random, 100);
  std::vector<std::size_t> picks = {99, 0, 5, 5, 42};
  Table by_hand(kSchema);
  for (auto r : picks) by_hand.append_row(table, r);
  expect_same_rows(table.take(picks), by_hand);
  Table doubled = table;
  doubled.append(table);
  ASSERT_EQ(doubled.num_rows(), 200u);
  expect_same_rows(doubled.take(std::vector<std::size_t>{150}), table.take(std::vector<std::size_t>{50}));
  EXPECT_EQ(table.column_index("f"), 2u);
  EXPECT_THROW(table.column_index("nope"), std::invalid_argument);
}

TEST(Table, KeepRowsFiltersInPlaceLikePerRowCopies) {
  std::mt19937_64 random(6);
  for (int trial = 0; trial < 20; ++trial) {
    Table table = random_table(random, 200);
    std::vector<std::size_t> kept;
    for (std::size_t r = 0; r < table.num_rows(); ++r)
      if (random() % (trial % 4 + 2) == 0) kept.push_back(r);
    Table by_hand(kSchema);
    for (auto r : kept) by_hand.append_row(table, r);
    table.keep_rows(kept);
    expect_same_rows(table, by_hand);
    table.strings(1).push_back("after");  // still a valid column to grow
    EXPECT_EQ(table.strings(1)[table.num_rows()], "after");
  }
  Table table = random_table(random, 3);
  EXPECT_THROW(table.keep_rows(std::vector<std::size_t>{1, 1}), std::invalid_argument);
  EXPECT_THROW(table.keep_rows(std::vector<std::size_t>{3}), std::invalid_argument);
}

TEST(Table, MaxStringLength) {
  Table table(kSchema);
  EXPECT_EQ(table.strings(1).max_length(), 0u);
  table.strings(1).push_back("abc");
  table.strings(1).push_back("");
  table.strings(1).push_back("abcdefg");
  EXPECT_EQ(table.strings(1).max_length(), 7u);
}

TEST(Table, ReserveRowsKeepsContentAndMakesRoom) {
  Table table(kSchema);
  table.strings(1).push_back("kept");
  table.ints(0).push_back(7);
  table.floats(2).push_back(0.5);
  table.commit_row();
  table.reserve_rows(1000);
  EXPECT_EQ(table.num_rows(), 1u);
  EXPECT_EQ(table.ints(0)[0], 7);
  EXPECT_EQ(table.strings(1)[0], "kept");
  EXPECT_GE(table.ints(0).capacity(), 1000u);
  EXPECT_GE(table.floats(2).capacity(), 1000u);
  const auto* before = table.ints(0).data();
  for (int i = 1; i < 1000; ++i) table.ints(0).push_back(i);
  EXPECT_EQ(table.ints(0).data(), before);  // no reallocation within the reservation
}

}  // namespace
}  // namespace mpilake
