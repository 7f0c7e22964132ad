#include "mpilake/gen/blocks.hpp"

#include <algorithm>

namespace mpilake::gen {

std::vector<std::int64_t> blocks_of_rank(std::int64_t blocks, int rank, int size) {
  std::vector<std::int64_t> mine;
  for (std::int64_t block = rank; block < blocks; block += size) mine.push_back(block);
  return mine;
}

int file_index_width(std::int64_t blocks, int min_width) {
  int digits = 1;
  for (std::int64_t rest = std::max<std::int64_t>(blocks - 1, 0); rest >= 10; rest /= 10) ++digits;
  return std::max(digits, min_width);
}

std::string zero_padded(std::int64_t index, int width) {
  std::string digits = std::to_string(index);
  if (digits.size() < static_cast<std::size_t>(width))
    digits.insert(0, static_cast<std::size_t>(width) - digits.size(), '0');
  return digits;
}

}  // namespace mpilake::gen
