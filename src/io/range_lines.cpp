#include "mpilake/io/range_lines.hpp"

namespace mpilake {

std::int64_t range_bytes(const SourceFiles& source, int part, int parts) {
  std::int64_t bytes = 0;
  for (const FileSegment& segment : split_byte_range(source, part, parts)) bytes += segment.end - segment.begin;
  return bytes;
}

std::int64_t read_range_lines(const SourceFiles& source, int part, int parts, std::size_t chunk_bytes,
                              std::size_t padding, const ProgressCallback& on_progress,
                              const std::function<void(const LineBatch&)>& on_batch) {
  const std::vector<FileSegment> segments = split_byte_range(source, part, parts);
  std::int64_t range = 0;
  for (const FileSegment& segment : segments) range += segment.end - segment.begin;
  std::int64_t done_before = 0;  // range bytes of the segments already read
  std::int64_t bytes_read = 0;
  std::vector<Line> lines;
  for (const FileSegment& segment : segments) {
    const LandingFile& file = source.files[segment.file_index];
    LineReader reader(file.path, file.bytes, segment.begin, segment.end, chunk_bytes, padding);
    while (reader.next(lines)) {
      on_batch({segment.file_index, file, reader, lines});
      if (on_progress && !lines.empty()) {
        const Line& last = lines.back();
        on_progress(done_before + (last.file_offset + static_cast<std::int64_t>(last.length) - segment.begin), range);
      }
    }
    bytes_read += reader.bytes_read();
    done_before += segment.end - segment.begin;
  }
  return bytes_read;
}

}  // namespace mpilake
