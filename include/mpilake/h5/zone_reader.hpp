#pragma once
// Serial reading of a zone file written by write_zone: its root attributes and its columns as a
// Table. Used by `mpilake inspect` and by tests.
#include <filesystem>
#include <string>
#include <vector>

#include "mpilake/h5/zone_writer.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

struct ColumnInfo {
  std::string name;
  ColumnType type;
  std::size_t string_width = 0;  // for strings: the fixed length
  bool has_null_value = false;
  std::int64_t null_value = 0;
};

struct ZoneFile {
  std::vector<Attribute> attributes;  // root attributes (int64, strings and their arrays; others as text)
  std::vector<ColumnInfo> columns;    // in the order of the `columns` attribute when present
  std::int64_t rows = 0;
  std::vector<std::string> datasets;  // every object at the file's root, by name (columns and indexes)
  Table table;                        // the first `max_rows` rows
};

// Reads attributes, column descriptions and up to `max_rows` rows (all when negative).
ZoneFile read_zone(const std::filesystem::path& path, std::int64_t max_rows = -1);

// Renders an attribute value as text, arrays as [a, b, ...].
std::string attribute_text(const AttributeValue& value);

}  // namespace mpilake
