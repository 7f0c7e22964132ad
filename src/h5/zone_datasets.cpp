#include "zone_datasets.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace mpilake::zone_detail {

H5Handle fixed_string_type(std::size_t width) {
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy(string)");
  check_h5(H5Tset_size(type.get(), std::max<std::size_t>(width, 1)), "H5Tset_size");
  check_h5(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "H5Tset_strpad");
  check_h5(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}

void write_attribute(hid_t object, const Attribute& attribute) {
  const std::string what = "attribute '" + attribute.name + "'";
  std::visit(
      [&](const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::vector<std::int64_t>>) {
          std::vector<std::int64_t> values;
          if constexpr (std::is_same_v<T, std::int64_t>)
            values = {value};
          else
            values = value;
          const hsize_t count = values.size();
          H5Handle space(std::is_same_v<T, std::int64_t> ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr),
                         H5Sclose, what);
          H5Handle attr(
              H5Acreate2(object, attribute.name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, "create " + what);
          if (!values.empty()) check_h5(H5Awrite(attr.get(), H5T_NATIVE_INT64, values.data()), "write " + what);
          attr.close("close " + what);
        } else {
          std::vector<std::string> values;
          if constexpr (std::is_same_v<T, std::string>)
            values = {value};
          else
            values = value;
          std::size_t width = 1;
          for (const auto& v : values) width = std::max(width, v.size());
          std::string packed(values.size() * width, '\0');
          for (std::size_t i = 0; i < values.size(); ++i)
            std::memcpy(packed.data() + i * width, values[i].data(), values[i].size());
          H5Handle type = fixed_string_type(width);
          const hsize_t count = values.size();
          H5Handle space(std::is_same_v<T, std::string> ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr),
                         H5Sclose, what);
          H5Handle attr(H5Acreate2(object, attribute.name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose, "create " + what);
          if (!values.empty()) check_h5(H5Awrite(attr.get(), type.get(), packed.data()), "write " + what);
          attr.close("close " + what);
        }
      },
      attribute.value);
}

OpenZone create_zone_file(const Comm& comm, const std::filesystem::path& temporary, const ZoneLayout& layout,
                          const std::string& where) {
  H5Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate(file access)");
  check_h5(H5Pset_fapl_mpio(access.get(), comm.get(), MPI_INFO_NULL), "H5Pset_fapl_mpio");
  OpenZone zone;
  zone.file = H5Handle(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose,
                       where + ": create " + temporary.string());
  // Raw data: each rank writes its own contiguous rows straight to the file (independent I/O), so the
  // ranks copy into the page cache side by side; collective buffering would gather them on one
  // aggregator rank while the others spin waiting (measured: bench/README.md). Parallel HDF5 writes
  // unfiltered chunks through without its chunk cache, so ranks sharing a chunk do not overwrite each
  // other. Filtered (compressed) chunks can only be written collectively.
  zone.transfer = H5Handle(H5Pcreate(H5P_DATASET_XFER), H5Pclose, "H5Pcreate(transfer)");
  check_h5(H5Pset_dxpl_mpio(zone.transfer.get(), layout.compress ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT),
           "H5Pset_dxpl_mpio");
  return zone;
}

H5Handle dataset_type(ColumnType type, std::size_t width, const std::string& what) {
  switch (type) {
    case ColumnType::Int64: return H5Handle(H5Tcopy(H5T_STD_I64LE), H5Tclose, what);
    case ColumnType::Float64: return H5Handle(H5Tcopy(H5T_IEEE_F64LE), H5Tclose, what);
    case ColumnType::String: break;
  }
  return fixed_string_type(width);
}

std::string check_dictionary_ids(const Table& rows, const DictionaryColumn& dictionary, const std::string& what,
                                 std::size_t& longest) {
  const auto& ids = rows.ints(dictionary.column);
  const auto& values = dictionary.values;
  longest = 0;
  for (const std::int64_t id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= values.size())
      return what + ": id " + std::to_string(id) + " is not in its dictionary";
    longest = std::max(longest, values[static_cast<std::size_t>(id)].size());
  }
  return {};
}

std::size_t longest_string(const Table& rows, std::size_t column, const DictionaryColumn* dictionary) {
  if (dictionary == nullptr) return rows.strings(column).max_length();
  std::size_t longest = 0;
  for (const std::int64_t id : rows.ints(column))
    longest = std::max(longest, dictionary->values[static_cast<std::size_t>(id)].size());
  return longest;
}

namespace {

// Packs `rows` strings into fixed-width cells (NUL-padded, as the contract's fixed-length strings
// are); `value(r)` is row r's string.
template <class ValueOfRow>
void pack_strings(std::size_t rows, std::size_t width, ValueOfRow&& value, std::string& packed) {
  packed.assign(rows * width, '\0');
  for (std::size_t r = 0; r < rows; ++r) {
    const std::string_view text = value(r);
    std::memcpy(packed.data() + r * width, text.data(), std::min(text.size(), width));
  }
}

}  // namespace

const void* stored_values(const Table& rows, std::size_t column, const DictionaryColumn* dictionary, std::size_t width,
                          std::string& packed) {
  if (dictionary != nullptr) {
    const auto& ids = rows.ints(column);
    pack_strings(
        ids.size(), width, [&](std::size_t r) { return dictionary->values[static_cast<std::size_t>(ids[r])]; }, packed);
    return packed.data();
  }
  switch (rows.schema()[column].type) {
    case ColumnType::Int64: return rows.ints(column).data();
    case ColumnType::Float64: return rows.floats(column).data();
    case ColumnType::String: break;
  }
  const StringColumn& strings = rows.strings(column);
  pack_strings(
      strings.size(), width, [&](std::size_t r) { return strings[r]; }, packed);
  return packed.data();
}

H5Handle create_zone_dataset(hid_t file, const std::string& name, hid_t type, std::int64_t total,
                             bool null_value_attribute, const ZoneLayout& layout, const std::string& what) {
  // Chunked when there is data (a chunk may not exceed a fixed dataset's size).
  H5Handle create(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, what);
  if (total > 0) {
    const hsize_t chunk = static_cast<hsize_t>(std::min(total, std::max<std::int64_t>(1, layout.chunk_rows)));
    check_h5(H5Pset_chunk(create.get(), 1, &chunk), what + ": chunk size");
    // Every element is written. Parallel HDF5 allocates all chunks when the dataset is created
    // and, by default, first fills them with the fill value: every byte would be written twice.
    check_h5(H5Pset_fill_time(create.get(), H5D_FILL_TIME_NEVER), what + ": fill time");
    if (layout.compress) {
      check_h5(H5Pset_shuffle(create.get()), what + ": shuffle filter");
      check_h5(H5Pset_deflate(create.get(), 4), what + ": deflate filter");
    }
  }
  const hsize_t file_dims = static_cast<hsize_t>(total);
  H5Handle file_space(H5Screate_simple(1, &file_dims, nullptr), H5Sclose, what);
  H5Handle dataset(H5Dcreate2(file, name.c_str(), type, file_space.get(), H5P_DEFAULT, create.get(), H5P_DEFAULT),
                   H5Dclose, what + ": create dataset");
  if (null_value_attribute) write_attribute(dataset.get(), {"null_value", kNullInt64});
  return dataset;
}

void write_ranges(hid_t dataset, hid_t type, hid_t transfer, const std::vector<RowRange>& ranges,
                  std::int64_t rows_of_all_ranks, const void* buffer, const std::string& what) {
  if (rows_of_all_ranks == 0) return;
  // Every rank takes part in the write (collective when compressed); a rank without rows selects nothing.
  H5Handle file_space(H5Dget_space(dataset), H5Sclose, what);
  hsize_t local_rows = 0;
  for (const RowRange& range : ranges) {
    if (range.count == 0) continue;
    const hsize_t start = static_cast<hsize_t>(range.start), count = static_cast<hsize_t>(range.count);
    check_h5(H5Sselect_hyperslab(file_space.get(), local_rows == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, &start, nullptr,
                                 &count, nullptr),
             what + ": select rows");
    local_rows += count;
  }
  H5Handle memory_space(H5Screate_simple(1, &local_rows, nullptr), H5Sclose, what);
  if (local_rows == 0) {
    check_h5(H5Sselect_none(memory_space.get()), what + ": select none");
    check_h5(H5Sselect_none(file_space.get()), what + ": select none");
  }
  check_h5(H5Dwrite(dataset, type, memory_space.get(), file_space.get(), transfer, buffer), what + ": write");
}

std::int64_t write_column(const Comm& comm, hid_t file, hid_t transfer, const Table& rows, std::size_t column,
                          const ZoneLayout& layout, const std::string& where, const DictionaryColumn* dictionary,
                          const std::vector<RowRange>* placement) {
  const ColumnSpec& spec = rows.schema()[column];
  const std::string what = where + ": column '" + spec.name + "'";
  if (dictionary != nullptr && spec.type != ColumnType::Int64)
    throw std::invalid_argument(what + ": a dictionary column must hold int64 ids");
  const auto local_rows = static_cast<std::int64_t>(rows.num_rows());
  const std::int64_t offset = comm.exscan_sum(local_rows);
  const std::int64_t total = comm.allreduce_sum(local_rows);

  const ColumnType stored = dictionary != nullptr ? ColumnType::String : spec.type;
  std::size_t width = 8;
  if (stored == ColumnType::String) {
    std::size_t longest = 0;
    if (dictionary != nullptr)  // agreed by every rank before the collective calls below
      comm.throw_if_any(check_dictionary_ids(rows, *dictionary, what, longest));
    else
      longest = rows.strings(column).max_length();
    // The widest value on any rank.
    width = static_cast<std::size_t>(std::max<std::int64_t>(1, comm.allreduce_max(static_cast<std::int64_t>(longest))));
  }
  H5Handle type = dataset_type(stored, width, what);
  std::string packed;
  const void* buffer = stored_values(rows, column, dictionary, width, packed);
  H5Handle dataset = create_zone_dataset(file, spec.name, type.get(), total, stored == ColumnType::Int64, layout, what);
  const std::vector<RowRange> ranges = placement != nullptr ? *placement : std::vector<RowRange>{{offset, local_rows}};
  write_ranges(dataset.get(), type.get(), transfer, ranges, total, buffer, what);
  dataset.close(what + ": close");
  return total * static_cast<std::int64_t>(width);
}

void write_root_attributes(hid_t file, const std::vector<Attribute>& attributes, std::int64_t rows,
                           const std::vector<std::string>& column_names) {
  std::vector<Attribute> root = attributes;
  root.push_back({"rows", rows});
  root.push_back({"columns", column_names});
  for (const auto& attribute : root) write_attribute(file, attribute);
}

void publish(const Comm& comm, const std::filesystem::path& temporary, const std::filesystem::path& path,
             const std::string& where) {
  // Only a complete file ever appears under the final name.
  comm.on_root([&] {
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) throw H5Error(where + ": rename from " + temporary.string() + ": " + ec.message());
  });
}

}  // namespace mpilake::zone_detail
