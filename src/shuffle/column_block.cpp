#include "mpilake/shuffle/column_block.hpp"

#include <cstring>
#include <stdexcept>

namespace mpilake {

namespace {
constexpr std::size_t padded(std::size_t bytes) {
  return (bytes + 7) & ~std::size_t{7};
}
}  // namespace

std::size_t column_block_bytes(const Table& rows, std::span<const std::size_t> picked) {
  std::size_t bytes = 8;
  for (std::size_t c = 0; c < rows.num_columns(); ++c) {
    if (rows.schema()[c].type != ColumnType::String) {
      bytes += 8 * picked.size();
      continue;
    }
    std::size_t text = 0;
    for (const std::size_t r : picked) text += rows.strings(c)[r].size();
    bytes += padded(4 * picked.size()) + padded(text);
  }
  return bytes;
}

void encode_column_block(const Table& rows, std::span<const std::size_t> picked, char* out) {
  const std::uint64_t count = picked.size();
  std::memcpy(out, &count, 8);
  out += 8;
  for (std::size_t c = 0; c < rows.num_columns(); ++c) {
    switch (rows.schema()[c].type) {
      case ColumnType::Int64: {
        const auto& values = rows.ints(c);
        for (const std::size_t r : picked) std::memcpy(out, &values[r], 8), out += 8;
        break;
      }
      case ColumnType::Float64: {
        const auto& values = rows.floats(c);
        for (const std::size_t r : picked) std::memcpy(out, &values[r], 8), out += 8;
        break;
      }
      case ColumnType::String: {
        const auto& values = rows.strings(c);
        char* lengths = out;
        out += padded(4 * picked.size());
        char* text = out;
        for (const std::size_t r : picked) {
          const std::string_view value = values[r];
          const auto length = static_cast<std::uint32_t>(value.size());
          std::memcpy(lengths, &length, 4);
          lengths += 4;
          std::memcpy(text, value.data(), value.size());
          text += value.size();
        }
        out += padded(static_cast<std::size_t>(text - out));
        break;
      }
    }
  }
}

const char* decode_column_block(const char* in, const char* end, Table& result, BlockCursor& cursor) {
  const auto need = [&](std::size_t bytes) {
    if (static_cast<std::size_t>(end - in) < bytes) throw std::runtime_error("column block: truncated");
  };
  need(8);
  std::uint64_t count;
  std::memcpy(&count, in, 8);
  in += 8;
  if (cursor.row + count > result.num_rows()) throw std::runtime_error("column block: more rows than announced");
  std::size_t string_index = 0;
  for (std::size_t c = 0; c < result.num_columns(); ++c) {
    switch (result.schema()[c].type) {
      case ColumnType::Int64:
        need(8 * count);
        std::memcpy(result.ints(c).data() + cursor.row, in, 8 * count);
        in += 8 * count;
        break;
      case ColumnType::Float64:
        need(8 * count);
        std::memcpy(result.floats(c).data() + cursor.row, in, 8 * count);
        in += 8 * count;
        break;
      case ColumnType::String: {
        StringColumn& column = result.strings(c);
        std::size_t& at = cursor.text[string_index++];
        need(padded(4 * count));
        const char* lengths = in;
        in += padded(4 * count);
        const std::size_t start = at;
        std::uint64_t* ends = column.end_offsets() + cursor.row;
        for (std::uint64_t i = 0; i < count; ++i) {
          std::uint32_t length;
          std::memcpy(&length, lengths + 4 * i, 4);
          at += length;
          ends[i] = at;
        }
        if (at > column.byte_size()) throw std::runtime_error("column block: more string bytes than announced");
        need(padded(at - start));
        std::memcpy(column.byte_data() + start, in, at - start);
        in += padded(at - start);
        break;
      }
    }
  }
  cursor.row += count;
  return in;
}

}  // namespace mpilake
