// Tests of the engine parts the synthetic data generators share: seeded and counter-based draws,
// the hand-written number formatting, the block-to-rank split and the checked file sink.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "mpilake/gen/blocks.hpp"
#include "mpilake/gen/format.hpp"
#include "mpilake/gen/output_buffer.hpp"
#include "mpilake/gen/random.hpp"
#include "mpilake/io/file_sink.hpp"

namespace mpilake::gen {
namespace {

enum class Purpose : std::uint64_t { first = 1, second = 2 };

TEST(GeneratorRandom, SameSeedStreamAndIndexGiveTheSameDraws) {
  Rng a(7, Purpose::first, 3), b(7, 1, 3), other_index(7, Purpose::first, 4), other_stream(7, Purpose::second, 3);
  const std::uint64_t first = a.next();
  EXPECT_EQ(first, b.next());
  EXPECT_NE(first, other_index.next());
  EXPECT_NE(first, other_stream.next());
  // Pinned values: data sets written by earlier versions must stay byte-identical.
  EXPECT_EQ(Rng(1, 1, 0).next(), 14541725724430462124ULL);
  Rng pinned(7, 3, 12345);
  pinned.next();
  EXPECT_EQ(pinned.next(), 199935577063494094ULL);
}

TEST(GeneratorRandom, DistributionsStayInRange) {
  Rng rng(11, 2, 0);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const std::int64_t k = rng.between(-3, 5);
    ASSERT_GE(k, -3);
    ASSERT_LE(k, 5);
    const double n = rng.normal();
    ASSERT_LE(std::abs(n), 3.5);
    sum += n;
  }
  EXPECT_NEAR(sum / 10000, 0.0, 0.05);
}

TEST(GeneratorRandom, CounterDrawsDependOnKeyAndCounterOnly) {
  EXPECT_EQ(counter_draw(42, 9), counter_draw(42, 9));
  std::set<std::uint64_t> seen;
  for (std::uint64_t counter = 0; counter < 1000; ++counter) seen.insert(counter_draw(42, counter));
  EXPECT_EQ(seen.size(), 1000U);
  EXPECT_NE(counter_draw(42, 1), counter_draw(43, 1));
}

TEST(GeneratorFormat, WritesNumbersLikeToString) {
  char buffer[64];
  const auto text = [&](char* end) { return std::string(buffer, end); };
  EXPECT_EQ(text(write_int(buffer, -9223372036854775807LL - 1)), "-9223372036854775808");
  EXPECT_EQ(text(write_int(buffer, 0)), "0");
  EXPECT_EQ(text(write_thousandths(buffer, -52)), "-0.052");
  EXPECT_EQ(text(write_thousandths(buffer, 1234567)), "1234.567");
  EXPECT_EQ(text(write_two_digits(buffer, 7)), "07");
  EXPECT_EQ(text(write_zero_padded(buffer, 42, 6)), "000042");
  EXPECT_EQ(text(write_text(buffer, "abc")), "abc");
  std::string out = "x";
  append_int(out, 123);
  EXPECT_EQ(out, "x123");
}

TEST(GeneratorBlocks, EveryBlockHasExactlyOneRank) {
  EXPECT_EQ(block_count(0, 10), 0);
  EXPECT_EQ(block_count(25, 10), 3);
  for (const int size : {1, 2, 3, 7}) {
    std::multiset<std::int64_t> written;
    for (int rank = 0; rank < size; ++rank) {
      for (const std::int64_t block : blocks_of_rank(10, rank, size)) {
        EXPECT_TRUE(rank_writes_block(block, rank, size));
        written.insert(block);
      }
    }
    ASSERT_EQ(written.size(), 10U);
    for (std::int64_t block = 0; block < 10; ++block) EXPECT_EQ(written.count(block), 1U);
  }
  EXPECT_EQ(file_index_width(3), 6);
  EXPECT_EQ(file_index_width(1234567), 7);
  EXPECT_EQ(file_index_width(10, 1), 1);
  EXPECT_EQ(file_index_width(11, 1), 2);
  EXPECT_EQ(zero_padded(12, 4), "0012");
  EXPECT_EQ(zero_padded(12345, 4), "12345");
}

TEST(GeneratorFileSink, WritesCountsAndReportsErrors) {
  const auto folder = std::filesystem::temp_directory_path() / ("mpilake_file_sink_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  {
    FileSink sink(folder / "out.txt");
    sink.write("hello ");
    sink.write(std::string(100000, 'x'));
    sink.close();
    sink.close();  // a second close is a no-op
    EXPECT_EQ(sink.bytes(), 100006);
  }
  std::ifstream in(folder / "out.txt", std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().size(), 100006U);
  EXPECT_THROW(FileSink(folder / "missing" / "out.txt"), std::runtime_error);
  std::filesystem::remove_all(folder);
}

TEST(GeneratorOutputBuffer, FlushesLargeChunksOrKeepsEverything) {
  std::string flushed;
  int flushes = 0;
  OutputBuffer out(
      [&](std::string_view data) {
        flushed.append(data);
        ++flushes;
      },
      4096);
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    char* at = out.reserve(64);
    at = write_int(write_text(at, "line "), i);
    *at++ = '\n';
    out.commit(at);
    expected += "line " + std::to_string(i) + "\n";
  }
  out.append("end\n");
  expected += "end\n";
  EXPECT_EQ(out.bytes(), static_cast<std::int64_t>(expected.size()));
  out.flush();
  EXPECT_EQ(flushed, expected);
  EXPECT_GT(flushes, 1);
  EXPECT_TRUE(out.buffered().empty());

  OutputBuffer memory;  // no flush function: grows
  for (int i = 0; i < 100000; ++i) memory.append("0123456789");
  EXPECT_EQ(memory.bytes(), 1000000);
  memory.flush();  // nothing to hand on: keeps the text
  const std::string text = memory.take();
  EXPECT_EQ(text.size(), 1000000U);
  EXPECT_EQ(memory.bytes(), 0);
}

}  // namespace
}  // namespace mpilake::gen
