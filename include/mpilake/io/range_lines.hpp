#pragma once
// This rank's share of one source, read line by line: the segments of its byte range in file order,
// each through a LineReader, in batches, with progress reported after each batch. Every pipeline's
// parse stage is this loop around its own line parser.
#include <cstdint>
#include <functional>
#include <span>

#include "mpilake/io/landing.hpp"
#include "mpilake/io/line_reader.hpp"
#include "mpilake/util/progress_callback.hpp"

namespace mpilake {

// Bytes of range `part` of `parts` of the source (see split_byte_range).
std::int64_t range_bytes(const SourceFiles& source, int part, int parts);

// One batch of complete lines of one file; a line's text is reader.data() + line.start, and
// reader.capacity_from(line.start) bytes are readable from there (`padding` of them past the batch).
struct LineBatch {
  std::size_t file_index;
  const LandingFile& file;
  const LineReader& reader;
  std::span<const Line> lines;
};

// Calls `on_batch` for every batch of the lines whose first byte lies in range `part` of `parts`,
// and `on_progress(bytes of the range done, range bytes)` after each. Returns the bytes read from
// the files. Throws InputError naming the file when one cannot be read.
std::int64_t read_range_lines(const SourceFiles& source, int part, int parts, std::size_t chunk_bytes,
                              std::size_t padding, const ProgressCallback& on_progress,
                              const std::function<void(const LineBatch&)>& on_batch);

}  // namespace mpilake
