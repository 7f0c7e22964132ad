#pragma once
// The wire format of exchange_rows: rows in columnar blocks. A block is a uint64 row count, then per
// column either 8 bytes per value (int64 / float64) or the uint32 lengths followed by the string
// bytes, each section padded to 8 bytes. Whole columns are copied at once on both sides, and the
// receiver writes each block straight into its final place in a table sized beforehand.
#include <cstddef>
#include <span>
#include <vector>

#include "mpilake/table/table.hpp"

namespace mpilake {

// Size of the block holding rows `picked` of `rows`.
std::size_t column_block_bytes(const Table& rows, std::span<const std::size_t> picked);
// Writes that block at `out` (column_block_bytes(rows, picked) bytes).
void encode_column_block(const Table& rows, std::span<const std::size_t> picked, char* out);

// Where the next decoded rows go in the result: a row position, and a byte position per string
// column (in column order).
struct BlockCursor {
  std::size_t row = 0;
  std::vector<std::size_t> text;
};
// Decodes the block at [in, end) into `result`, whose columns are already sized (ints/floats
// resized, strings resize_for_fill) to hold it at `cursor`, and advances the cursor. Returns the end
// of the block; throws std::runtime_error on a truncated block or one larger than announced.
const char* decode_column_block(const char* in, const char* end, Table& result, BlockCursor& cursor);

}  // namespace mpilake
