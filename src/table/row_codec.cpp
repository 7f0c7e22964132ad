#include "mpilake/table/row_codec.hpp"

#include <cstring>
#include <stdexcept>

namespace mpilake {

std::size_t encoded_row_size(const Table& table, std::size_t row) {
  std::size_t size = 0;
  for (std::size_t c = 0; c < table.num_columns(); ++c) {
    if (table.schema()[c].type == ColumnType::String)
      size += 4 + table.strings(c)[row].size();
    else
      size += 8;
  }
  return size;
}

char* encode_row(const Table& table, std::size_t row, char* out) {
  for (std::size_t c = 0; c < table.num_columns(); ++c) {
    switch (table.schema()[c].type) {
      case ColumnType::Int64:
        std::memcpy(out, &table.ints(c)[row], 8);
        out += 8;
        break;
      case ColumnType::Float64:
        std::memcpy(out, &table.floats(c)[row], 8);
        out += 8;
        break;
      case ColumnType::String: {
        const std::string_view text = table.strings(c)[row];
        if (text.size() > 0xFFFFFFFFu) throw std::length_error("string value longer than 4 GiB");
        const auto length = static_cast<std::uint32_t>(text.size());
        std::memcpy(out, &length, 4);
        std::memcpy(out + 4, text.data(), text.size());
        out += 4 + text.size();
        break;
      }
    }
  }
  return out;
}

std::string encode_rows(const Table& table) {
  std::size_t total = 0;
  for (std::size_t r = 0; r < table.num_rows(); ++r) total += encoded_row_size(table, r);
  std::string bytes(total, '\0');
  char* out = bytes.data();
  for (std::size_t r = 0; r < table.num_rows(); ++r) out = encode_row(table, r, out);
  return bytes;
}

void decode_rows(Table& table, std::string_view bytes) {
  const char* in = bytes.data();
  const char* const end = bytes.data() + bytes.size();
  const auto need = [&](std::size_t n) {
    if (static_cast<std::size_t>(end - in) < n) throw std::runtime_error("decode_rows: truncated row data");
  };
  while (in < end) {
    for (std::size_t c = 0; c < table.num_columns(); ++c) {
      switch (table.schema()[c].type) {
        case ColumnType::Int64: {
          need(8);
          std::int64_t value;
          std::memcpy(&value, in, 8);
          table.ints(c).push_back(value);
          in += 8;
          break;
        }
        case ColumnType::Float64: {
          need(8);
          double value;
          std::memcpy(&value, in, 8);
          table.floats(c).push_back(value);
          in += 8;
          break;
        }
        case ColumnType::String: {
          need(4);
          std::uint32_t length;
          std::memcpy(&length, in, 4);
          in += 4;
          need(length);
          table.strings(c).push_back(std::string_view(in, length));
          in += length;
          break;
        }
      }
    }
    table.commit_row();
  }
}

}  // namespace mpilake
