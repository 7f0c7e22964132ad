#pragma once
// Internal to the engine's h5 folder: the pieces of a zone file that write_zone (all rows in one
// call) and ZoneAppender (rows in many calls) share, so that both write the same file: the string
// type, attributes, the dataset creation properties (chunks, filters, fill time), the collective
// write of each rank's rows, the root attributes and the rename into place.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mpilake/h5/handle.hpp"
#include "mpilake/h5/zone_writer.hpp"

namespace mpilake::zone_detail {

// File rows [start, start + count).
struct RowRange {
  std::int64_t start = 0;
  std::int64_t count = 0;
};

// Fixed-length, NUL-padded UTF-8 string of `width` bytes (at least 1).
H5Handle fixed_string_type(std::size_t width);
void write_attribute(hid_t object, const Attribute& attribute);

struct OpenZone {
  H5Handle file;
  H5Handle transfer;  // independent raw-data transfers; collective when compressed
};
// Collective: creates `temporary` with the MPI-IO driver (truncating an old one).
OpenZone create_zone_file(const Comm& comm, const std::filesystem::path& temporary, const ZoneLayout& layout,
                          const std::string& where);

// The dataset type of a column stored as `type` (a dictionary column: String) of `width` bytes.
H5Handle dataset_type(ColumnType type, std::size_t width, const std::string& what);
// Bytes per value as stored: 8 for numbers, `width` for strings.
inline std::size_t stored_width(ColumnType type, std::size_t width) {
  return type == ColumnType::String ? width : 8;
}

// Empty when every id of `dictionary`'s column is in the dictionary, else the message for the first
// one that is not. `longest` gets the longest value used.
std::string check_dictionary_ids(const Table& rows, const DictionaryColumn& dictionary, const std::string& what,
                                 std::size_t& longest);
// Longest string of column `column` on this rank (a String column or a dictionary column).
std::size_t longest_string(const Table& rows, std::size_t column, const DictionaryColumn* dictionary);
// The column's values as stored, row after row: numbers straight from the table, strings packed into
// NUL-padded cells of `width` bytes in `packed` (no value may be longer).
const void* stored_values(const Table& rows, std::size_t column, const DictionaryColumn* dictionary, std::size_t width,
                          std::string& packed);

// Collective: the dataset `name` of `total` rows as the zone contract has it: chunks of
// min(total, chunk_rows) rows (contiguous when empty), never filled, shuffle + deflate 4 when
// compressed; an int64 column (not a dictionary column) gets its null_value attribute.
H5Handle create_zone_dataset(hid_t file, const std::string& name, hid_t type, std::int64_t total,
                             bool null_value_attribute, const ZoneLayout& layout, const std::string& what);
// Collective whenever `rows_of_all_ranks` > 0 (every rank calls it; a rank may pass no ranges): writes
// this rank's `ranges` (ascending, not overlapping) from `buffer`, which holds their rows one after the
// other in the file's type.
void write_ranges(hid_t dataset, hid_t type, hid_t transfer, const std::vector<RowRange>& ranges,
                  std::int64_t rows_of_all_ranks, const void* buffer, const std::string& what);

// Collective: one complete dataset for column `column` of every rank's `rows`, its string width the
// longest value on any rank; this rank's rows land at `placement` (ascending ranges whose counts add
// up to rows.num_rows()), or, when null, after the lower ranks' rows. Returns the payload bytes.
std::int64_t write_column(const Comm& comm, hid_t file, hid_t transfer, const Table& rows, std::size_t column,
                          const ZoneLayout& layout, const std::string& where, const DictionaryColumn* dictionary,
                          const std::vector<RowRange>* placement = nullptr);

// `attributes`, then `rows` and `columns`, on the file's root group.
void write_root_attributes(hid_t file, const std::vector<Attribute>& attributes, std::int64_t rows,
                           const std::vector<std::string>& column_names);
// Collective: renames `temporary` to `path` on rank 0 (every rank throws if that fails).
void publish(const Comm& comm, const std::filesystem::path& temporary, const std::filesystem::path& path,
             const std::string& where);

}  // namespace mpilake::zone_detail
