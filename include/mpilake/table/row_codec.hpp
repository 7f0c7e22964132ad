#pragma once
// Byte encoding of table rows for exchange between ranks: per column, int64 and float64 as 8 raw
// bytes, strings as a 4-byte length then the bytes. Both sides share the schema, so no tags.
#include <cstddef>
#include <string>
#include <string_view>

#include "mpilake/table/table.hpp"

namespace mpilake {

std::size_t encoded_row_size(const Table& table, std::size_t row);
// Appends the encoding of `row` at `out` (which must have encoded_row_size bytes); returns the end.
char* encode_row(const Table& table, std::size_t row, char* out);
// All rows of `table`, encoded one after the other.
std::string encode_rows(const Table& table);
// Appends every row encoded in `bytes` to `table`; throws std::runtime_error on a truncated buffer.
void decode_rows(Table& table, std::string_view bytes);

}  // namespace mpilake
