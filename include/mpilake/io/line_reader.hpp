#pragma once
// Reads the lines of one file segment in bounded chunks. A line belongs to the segment that holds
// its first byte, so neighbouring ranks together read every line exactly once and no rank reads a
// whole file it does not need (only the tail of its last line may reach past its range).
#include <cstdint>
#include <string>
#include <vector>

namespace mpilake {

struct Line {
  std::int64_t file_offset = 0;  // byte offset of the line's first byte in the file
  std::size_t start = 0;         // position in LineReader::data()
  std::size_t length = 0;        // without the '\n' (a '\r' before it is kept); UTF-8 BOM removed
};

class LineReader {
 public:
  // `file_size` is the size seen at discovery: bytes appended later are ignored, so every rank
  // agrees on the split. `padding` readable bytes follow every batch (simdjson needs them).
  LineReader(std::string path, std::int64_t file_size, std::int64_t begin, std::int64_t end,
             std::size_t chunk_bytes = std::size_t{4} << 20, std::size_t padding = 64);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Replaces `lines` with the next batch of complete lines; false when the segment is exhausted.
  bool next(std::vector<Line>& lines);
  const char* data() const { return buffer_.data(); }
  // Readable bytes from `position` to the end of the buffer, padding included.
  std::size_t capacity_from(std::size_t position) const { return buffer_.size() - position; }
  // Bytes of the file actually read so far.
  std::int64_t bytes_read() const { return bytes_read_; }

 private:
  std::size_t read_more(std::size_t keep_from);

  std::string path_;
  int fd_ = -1;
  std::int64_t file_size_;
  std::int64_t end_;
  std::size_t chunk_bytes_;
  std::size_t padding_;
  std::vector<char> buffer_;
  std::size_t filled_ = 0;               // valid bytes in buffer_
  std::int64_t buffer_file_offset_ = 0;  // file offset of buffer_[0]
  std::int64_t next_read_ = 0;           // file offset of the next pread
  std::size_t scan_from_ = 0;            // where the next line starts in buffer_
  bool skipping_foreign_line_ = false;   // the segment starts inside a line owned by the previous rank
  bool done_ = false;
  std::int64_t bytes_read_ = 0;
};

}  // namespace mpilake
