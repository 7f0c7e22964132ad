#pragma once
// Serial reading of chosen columns of a zone file in bounded row chunks (one process, the default
// HDF5 file driver), so a tool can walk a zone of any size with fixed memory. Used by `mpilake audit`.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mpilake/h5/handle.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

class ZoneChunkReader {
 public:
  // Opens `path` and the 1-D datasets `columns` at its root; throws H5Error naming the file and the
  // dataset when one is missing, not 1-D or of a type other than integer, float or fixed-length string.
  ZoneChunkReader(const std::filesystem::path& path, const std::vector<std::string>& columns);

  // The columns as found in the file: integers read as int64, floats as float64, strings NUL-trimmed.
  const Schema& schema() const { return schema_; }
  // Length of each dataset, in the order of `columns`.
  const std::vector<std::int64_t>& lengths() const { return lengths_; }
  // Rows readable from every column (the shortest dataset's length).
  std::int64_t rows() const { return rows_; }
  // File offset of the first row of the chunk the last next() returned.
  std::int64_t chunk_start() const { return chunk_start_; }

  // Restricts the following next() calls to rows [begin, end) (clamped to rows()), starting at begin:
  // each rank of a parallel tool reads its own contiguous share of a zone.
  void set_range(std::int64_t begin, std::int64_t end);

  // Replaces `chunk` (given this reader's schema) with the next up to `max_rows` rows; false when all
  // rows() (or all rows of the range) have been read.
  bool next(Table& chunk, std::int64_t max_rows);

 private:
  std::string where_;
  H5Handle file_;
  std::vector<std::string> names_;
  std::vector<H5Handle> datasets_;
  std::vector<std::size_t> string_widths_;
  Schema schema_;
  std::vector<std::int64_t> lengths_;
  std::int64_t rows_ = 0;
  std::int64_t position_ = 0;
  std::int64_t end_ = -1;  // -1: up to rows()
  std::int64_t chunk_start_ = 0;
};

}  // namespace mpilake
