#pragma once
// Collective write of one zone (a Table spread over the ranks) to one HDF5 file, following the
// output contract: one 1-D dataset per column, int64 / float64 / fixed-length NUL-padded strings,
// INT64_MIN as the integer NULL with a `null_value` attribute, root attributes. The file is written
// under a temporary name and renamed when complete, so a crash never leaves a half-written zone.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mpilake/io/atomic_file.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/table/table.hpp"
#include "mpilake/util/progress_callback.hpp"

namespace mpilake {

using AttributeValue = std::variant<std::string, std::int64_t, std::vector<std::string>, std::vector<std::int64_t>>;

struct Attribute {
  std::string name;
  AttributeValue value;
};

struct ZoneLayout {
  // Rows per chunk: whole columns and one device's slice both read a few chunks.
  std::int64_t chunk_rows = 32768;
  bool compress = false;       // shuffle + deflate (level 4) on every dataset
  ProgressCallback on_column;  // after each dataset: datasets written, datasets in all
};

struct ZoneWriteResult {
  std::int64_t rows = 0;   // all ranks together
  std::int64_t bytes = 0;  // dataset payload bytes, all ranks together
};

// A column the table holds as ids (int64, each an index into `values`) and the zone stores as the
// strings they stand for: the dataset is exactly that of a string column holding values[id] in
// every row. For keys turned into dense ids where they were parsed (the dictionary is the same on
// every rank, e.g. a replicated dimension).
struct DictionaryColumn {
  std::size_t column = 0;
  std::span<const std::string_view> values;
};

// Collective: every rank calls it, also with zero rows. `attributes` must be identical on every rank;
// `rows` and `columns` are added by the writer. Each column of each `extra` table becomes one more
// dataset (e.g. an index), also distributed over the ranks in rank order, not listed in `columns`.
ZoneWriteResult write_zone(const Comm& comm, const std::filesystem::path& path, const Table& rows,
                           const std::vector<Attribute>& attributes, const ZoneLayout& layout = {},
                           const std::vector<const Table*>& extra = {},
                           const std::vector<DictionaryColumn>& dictionaries = {});

}  // namespace mpilake
