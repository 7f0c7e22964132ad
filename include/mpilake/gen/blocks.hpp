#pragma once
// How the generators share their output among ranks so that the files do not depend on the rank
// count: the data set is cut into blocks fixed by the options alone (one or a few files each), block
// k is written by rank k % size, and every value in a block comes from seeded draws of its own.
#include <cstdint>
#include <string>
#include <vector>

namespace mpilake::gen {

// Number of blocks of `per_block` items that hold `items` (per_block > 0).
inline std::int64_t block_count(std::int64_t items, std::int64_t per_block) {
  return items <= 0 ? 0 : (items + per_block - 1) / per_block;
}

inline bool rank_writes_block(std::int64_t block, int rank, int size) {
  return block % size == rank;
}

// The blocks rank `rank` of `size` writes, in increasing order: rank, rank + size, ...
std::vector<std::int64_t> blocks_of_rank(std::int64_t blocks, int rank, int size);

// Digits of the largest block index (blocks - 1), but at least `min_width`, so that the
// zero-padded file names of one data set sort in block order.
int file_index_width(std::int64_t blocks, int min_width = 6);

// `index` as decimal text zero-padded to `width` digits (wider when it does not fit).
std::string zero_padded(std::int64_t index, int width);

}  // namespace mpilake::gen
