#pragma once
// An order between rows of two tables of one schema, for the sorts and merges that take rows from
// several tables at once (shuffle/merge_to_root.hpp, io/sorted_runs.hpp).
#include <cstddef>
#include <functional>

#include "mpilake/table/table.hpp"

namespace mpilake {

// Orders row `i` of `a` before row `j` of `b` (a strict weak order).
using RowLess = std::function<bool(const Table& a, std::size_t i, const Table& b, std::size_t j)>;

}  // namespace mpilake
