#include "mpilake/h5/zone_writer.hpp"

#include <cstring>
#include <stdexcept>
#include <string_view>

#include "mpilake/h5/handle.hpp"
#include "mpilake/mpi/fault.hpp"

namespace mpilake {

namespace {

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

// Packs `rows` strings into fixed-width cells of the widest one on any rank (NUL-padded, as the
// contract's fixed-length strings are); `value(r)` is row r's string.
template <class ValueOfRow>
std::size_t pack_strings(const Comm& comm, std::size_t rows, std::size_t max_length, ValueOfRow&& value,
                         std::string& packed) {
  const auto width =
      static_cast<std::size_t>(std::max<std::int64_t>(1, comm.allreduce_max(static_cast<std::int64_t>(max_length))));
  packed.assign(rows * width, '\0');
  for (std::size_t r = 0; r < rows; ++r) {
    const std::string_view text = value(r);
    std::memcpy(packed.data() + r * width, text.data(), text.size());
  }
  return width;
}

// Writes column `column` of every rank's `rows` as one dataset; returns its payload bytes.
// `dictionary`: the column holds ids into it and is written as their strings.
std::int64_t write_column(const Comm& comm, hid_t file, hid_t transfer, const Table& rows, std::size_t column,
                          const ZoneLayout& layout, const std::string& where, const DictionaryColumn* dictionary) {
  ColumnSpec spec = rows.schema()[column];
  const std::string what = where + ": column '" + spec.name + "'";
  if (dictionary != nullptr && spec.type != ColumnType::Int64)
    throw std::invalid_argument(what + ": a dictionary column must hold int64 ids");
  const auto local_rows = static_cast<std::int64_t>(rows.num_rows());
  const std::int64_t offset = comm.exscan_sum(local_rows);
  const std::int64_t total = comm.allreduce_sum(local_rows);

  H5Handle type;
  std::size_t width = 8;
  std::string packed_strings;
  const void* buffer = nullptr;
  if (dictionary != nullptr) {
    const auto& ids = rows.ints(column);
    const auto& values = dictionary->values;
    std::size_t max_length = 0;
    std::string problem;  // agreed by every rank before the collective calls below
    for (const std::int64_t id : ids) {
      if (id < 0 || static_cast<std::size_t>(id) >= values.size()) {
        problem = what + ": id " + std::to_string(id) + " is not in its dictionary";
        break;
      }
      max_length = std::max(max_length, values[static_cast<std::size_t>(id)].size());
    }
    comm.throw_if_any(problem);
    width = pack_strings(
        comm, ids.size(), max_length, [&](std::size_t r) { return values[static_cast<std::size_t>(ids[r])]; },
        packed_strings);
    type = fixed_string_type(width);
    buffer = packed_strings.data();
    spec.type = ColumnType::String;
  } else {
    switch (spec.type) {
      case ColumnType::Int64:
        type = H5Handle(H5Tcopy(H5T_STD_I64LE), H5Tclose, what);
        buffer = rows.ints(column).data();
        break;
      case ColumnType::Float64:
        type = H5Handle(H5Tcopy(H5T_IEEE_F64LE), H5Tclose, what);
        buffer = rows.floats(column).data();
        break;
      case ColumnType::String: {
        const StringColumn& strings = rows.strings(column);
        width = pack_strings(
            comm, strings.size(), strings.max_length(), [&](std::size_t r) { return strings[r]; }, packed_strings);
        type = fixed_string_type(width);
        buffer = packed_strings.data();
        break;
      }
    }
  }

  // Chunked when there is data (a chunk may not exceed a fixed dataset's size).
  H5Handle create(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, what);
  if (total > 0) {
    const hsize_t chunk = static_cast<hsize_t>(std::min(total, std::max<std::int64_t>(1, layout.chunk_rows)));
    check_h5(H5Pset_chunk(create.get(), 1, &chunk), what + ": chunk size");
    // Every element is written below. Parallel HDF5 allocates all chunks when the dataset is created
    // and, by default, first fills them with the fill value: every byte would be written twice.
    check_h5(H5Pset_fill_time(create.get(), H5D_FILL_TIME_NEVER), what + ": fill time");
    if (layout.compress) {
      check_h5(H5Pset_shuffle(create.get()), what + ": shuffle filter");
      check_h5(H5Pset_deflate(create.get(), 4), what + ": deflate filter");
    }
  }
  const hsize_t file_dims = static_cast<hsize_t>(total);
  H5Handle file_space(H5Screate_simple(1, &file_dims, nullptr), H5Sclose, what);
  H5Handle dataset(
      H5Dcreate2(file, spec.name.c_str(), type.get(), file_space.get(), H5P_DEFAULT, create.get(), H5P_DEFAULT),
      H5Dclose, what + ": create dataset");
  if (total > 0) {
    // Every rank takes part in the write (collective when compressed); a rank without rows selects nothing.
    const hsize_t local_dims = static_cast<hsize_t>(local_rows);
    H5Handle memory_space(H5Screate_simple(1, &local_dims, nullptr), H5Sclose, what);
    if (local_rows == 0) {
      check_h5(H5Sselect_none(memory_space.get()), what + ": select none");
      check_h5(H5Sselect_none(file_space.get()), what + ": select none");
    } else {
      const hsize_t start = static_cast<hsize_t>(offset);
      check_h5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &local_dims, nullptr),
               what + ": select rows");
    }
    check_h5(H5Dwrite(dataset.get(), type.get(), memory_space.get(), file_space.get(), transfer, buffer),
             what + ": write");
  }
  if (spec.type == ColumnType::Int64) write_attribute(dataset.get(), {"null_value", kNullInt64});
  dataset.close(what + ": close");
  return total * static_cast<std::int64_t>(width);
}

}  // namespace

namespace {

ZoneWriteResult write_and_publish(const Comm& comm, const std::filesystem::path& path, const Table& rows,
                                  const std::vector<Attribute>& attributes, const ZoneLayout& layout,
                                  const std::vector<const Table*>& extra,
                                  const std::vector<DictionaryColumn>& dictionaries) {
  silence_hdf5_errors();
  const std::filesystem::path temporary = temporary_path_for(path);
  const std::string where = "writing '" + path.string() + "'";

  H5Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate(file access)");
  check_h5(H5Pset_fapl_mpio(access.get(), comm.get(), MPI_INFO_NULL), "H5Pset_fapl_mpio");
  H5Handle file(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose,
                where + ": create " + temporary.string());
  // Raw data: each rank writes its own contiguous rows straight to the file (independent I/O), so the
  // ranks copy into the page cache side by side; collective buffering would gather them on one
  // aggregator rank while the others spin waiting (measured: bench/README.md). Parallel HDF5 writes
  // unfiltered chunks through without its chunk cache, so ranks sharing a chunk do not overwrite each
  // other. Filtered (compressed) chunks can only be written collectively.
  H5Handle transfer(H5Pcreate(H5P_DATASET_XFER), H5Pclose, "H5Pcreate(transfer)");
  check_h5(H5Pset_dxpl_mpio(transfer.get(), layout.compress ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT),
           "H5Pset_dxpl_mpio");

  ZoneWriteResult result;
  try {
    result.rows = comm.allreduce_sum(static_cast<std::int64_t>(rows.num_rows()));
    std::vector<std::string> column_names;
    std::int64_t datasets = static_cast<std::int64_t>(rows.num_columns()), written = 0;
    for (const Table* table : extra) datasets += static_cast<std::int64_t>(table->num_columns());
    const auto wrote_one = [&] {
      if (layout.on_column) layout.on_column(++written, datasets);
    };
    for (std::size_t c = 0; c < rows.num_columns(); ++c) {
      column_names.push_back(rows.schema()[c].name);
      const DictionaryColumn* dictionary = nullptr;
      for (const DictionaryColumn& candidate : dictionaries)
        if (candidate.column == c) dictionary = &candidate;
      result.bytes += write_column(comm, file.get(), transfer.get(), rows, c, layout, where, dictionary);
      wrote_one();
    }
    fault_point("write", comm);  // crash tests: die with the zone half-written
    for (const Table* table : extra)
      for (std::size_t c = 0; c < table->num_columns(); ++c) {
        result.bytes += write_column(comm, file.get(), transfer.get(), *table, c, layout, where, nullptr);
        wrote_one();
      }

    std::vector<Attribute> root = attributes;
    root.push_back({"rows", result.rows});
    root.push_back({"columns", column_names});
    for (const auto& attribute : root) write_attribute(file.get(), attribute);
    file.close(where + ": close");
  } catch (...) {
    file.abandon();
    throw;
  }

  // Publish: only a complete file ever appears under the final name.
  comm.on_root([&] {
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) throw H5Error(where + ": rename from " + temporary.string() + ": " + ec.message());
  });
  return result;
}

}  // namespace

ZoneWriteResult write_zone(const Comm& comm, const std::filesystem::path& path, const Table& rows,
                           const std::vector<Attribute>& attributes, const ZoneLayout& layout,
                           const std::vector<const Table*>& extra, const std::vector<DictionaryColumn>& dictionaries) {
  try {
    return write_and_publish(comm, path, rows, attributes, layout, extra, dictionaries);
  } catch (...) {
    // Do not leave a partial temporary file behind (e.g. on a full disk); the final name never
    // held anything but complete zones.
    std::error_code ignored;
    std::filesystem::remove(temporary_path_for(path), ignored);
    throw;
  }
}

}  // namespace mpilake
