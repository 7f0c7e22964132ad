// For every split point of a file, the lines read by the two (or three) segments together are
// exactly the file's lines, each once, compared with an obviously-correct reference split.
#include "mpilake/io/line_reader.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "mpilake/io/landing.hpp"

namespace mpilake {
namespace {

using LineList = std::vector<std::pair<std::int64_t, std::string>>;

// Reference: every line start is 0 or the byte after a '\n'; the last line may lack its '\n'.
LineList reference_lines(const std::string& content) {
  LineList lines;
  std::size_t start = 0;
  while (start < content.size()) {
    std::size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string text = content.substr(start, end - start);
    if (start == 0 && text.rfind("\xEF\xBB\xBF", 0) == 0) text = text.substr(3);
    lines.emplace_back(static_cast<std::int64_t>(start), text);
    start = end + 1;
  }
  return lines;
}

class LineReaderTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& content) {
    path_ = std::filesystem::temp_directory_path() / ("mpilake_line_reader_" + std::to_string(::getpid()) + ".json");
    std::ofstream(path_, std::ios::binary) << content;
    return path_;
  }
  void TearDown() override { std::filesystem::remove(path_); }

  LineList read_segment(const std::string& content, std::int64_t begin, std::int64_t end, std::size_t chunk) {
    LineReader reader(path_.string(), static_cast<std::int64_t>(content.size()), begin, end, chunk, 8);
    LineList lines;
    std::vector<Line> batch;
    while (reader.next(batch))
      for (const auto& line : batch)
        lines.emplace_back(line.file_offset, std::string(reader.data() + line.start, line.length));
    return lines;
  }

  std::filesystem::path path_;
};

const std::vector<std::string> kContents = {
    "",
    "\n",
    "a",
    "{\"a\":1}\n{\"b\":2}\n",
    "{\"a\":1}\r\n\r\n{\"b\":22}\r\n  \nlast-without-newline",
    "\xEF\xBB\xBF{\"bom\":1}\nx\n\n\n",
    "\n\n\nabc\n\n",
    std::string(50, 'x') + "\n" + "y\n" + std::string(70, 'z'),
};

TEST_F(LineReaderTest, EveryTwoWaySplitReadsEachLineExactlyOnce) {
  for (const auto& content : kContents) {
    write(content);
    const auto expected = reference_lines(content);
    const auto size = static_cast<std::int64_t>(content.size());
    for (std::size_t chunk : {1, 3, 7, 4096}) {
      for (std::int64_t cut = 0; cut <= size; ++cut) {
        LineList got = read_segment(content, 0, cut, chunk);
        const LineList second = read_segment(content, cut, size, chunk);
        got.insert(got.end(), second.begin(), second.end());
        ASSERT_EQ(got, expected) << "content size " << size << ", cut at " << cut << ", chunk " << chunk;
      }
    }
  }
}

TEST_F(LineReaderTest, EveryThreeWaySplitReadsEachLineExactlyOnce) {
  std::mt19937 random(7);
  std::string content;
  for (int i = 0; i < 40; ++i) {
    content += std::string(random() % 9, static_cast<char>('a' + i % 26));
    content += (random() % 4 == 0) ? "\r\n" : "\n";
  }
  content += "tail";
  write(content);
  const auto expected = reference_lines(content);
  const auto size = static_cast<std::int64_t>(content.size());
  for (std::int64_t a = 0; a <= size; a += 3)
    for (std::int64_t b = a; b <= size; b += 5) {
      LineList got = read_segment(content, 0, a, 5);
      for (const auto& part : {read_segment(content, a, b, 5), read_segment(content, b, size, 5)})
        got.insert(got.end(), part.begin(), part.end());
      ASSERT_EQ(got, expected) << "cuts at " << a << " and " << b;
    }
}

TEST_F(LineReaderTest, LongContentInManyChunkSizesReadsEachLineExactlyOnce) {
  // Lines of 0 to 200 bytes, so newlines fall anywhere in and across the reader's 64-byte scan blocks.
  std::mt19937 random(11);
  std::string content;
  while (content.size() < 20000) {
    content += std::string(random() % 201, static_cast<char>('a' + random() % 26));
    content += random() % 5 == 0 ? "\r\n" : "\n";
  }
  content += std::string(100, 'e');  // no final newline
  write(content);
  const auto expected = reference_lines(content);
  const auto size = static_cast<std::int64_t>(content.size());
  for (std::size_t chunk : {1, 63, 64, 65, 200, 1000, 1 << 20}) {
    for (std::int64_t cut : {std::int64_t{0}, std::int64_t{1}, size / 3, size / 2 + 17, size - 1, size}) {
      LineList got = read_segment(content, 0, cut, chunk);
      const LineList second = read_segment(content, cut, size, chunk);
      got.insert(got.end(), second.begin(), second.end());
      ASSERT_EQ(got, expected) << "cut at " << cut << ", chunk " << chunk;
    }
  }
}

TEST_F(LineReaderTest, ARankReadsOnlyItsRangeAndTheTailOfItsLastLine) {
  std::string content;
  while (content.size() < (1u << 20)) content += "{\"sensorReadingTime\":1655564444103,\"serialNumber\":\"abc\"}\n";
  write(content);
  const auto size = static_cast<std::int64_t>(content.size());
  for (std::int64_t end : {std::int64_t{100}, std::int64_t{300000}}) {
    LineReader reader(path_.string(), size, 0, end, std::size_t{4} << 20, 8);
    std::vector<Line> batch;
    while (reader.next(batch)) {
    }
    EXPECT_LE(reader.bytes_read(), end + 4096) << "range [0, " << end << ") of a " << size << "-byte file";
  }
}

TEST(SplitByteRange, RangesTileTheSourceWithoutGapsOrOverlap) {
  SourceFiles source{"s", {{"a", 10}, {"b", 0}, {"c", 7}, {"d", 1}}};
  for (int parts = 1; parts <= 7; ++parts) {
    std::vector<int> owner_count_per_byte(18, 0);
    for (int part = 0; part < parts; ++part)
      for (const auto& segment : split_byte_range(source, part, parts)) {
        std::int64_t file_start = 0;
        for (std::size_t i = 0; i < segment.file_index; ++i) file_start += source.files[i].bytes;
        ASSERT_LE(segment.end, source.files[segment.file_index].bytes);
        for (std::int64_t byte = segment.begin; byte < segment.end; ++byte) ++owner_count_per_byte[file_start + byte];
      }
    for (int count : owner_count_per_byte) EXPECT_EQ(count, 1) << parts << " parts";
  }
}

}  // namespace
}  // namespace mpilake
