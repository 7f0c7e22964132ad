#include "mpilake/h5/zone_chunks.hpp"

#include <algorithm>
#include <limits>

namespace mpilake {

ZoneChunkReader::ZoneChunkReader(const std::filesystem::path& path, const std::vector<std::string>& columns)
    : where_("reading '" + path.string() + "'"), names_(columns) {
  silence_hdf5_errors();
  file_ = H5Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, where_);
  rows_ = columns.empty() ? 0 : std::numeric_limits<std::int64_t>::max();
  for (const auto& name : columns) {
    const std::string what = where_ + ": dataset '" + name + "'";
    if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) <= 0) throw H5Error(what + ": missing");
    H5Handle dataset(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose, what);
    H5Handle type(H5Dget_type(dataset.get()), H5Tclose, what);
    H5Handle space(H5Dget_space(dataset.get()), H5Sclose, what);
    ColumnType column_type = ColumnType::Int64;
    std::size_t width = 0;
    switch (H5Tget_class(type.get())) {
      case H5T_INTEGER: column_type = ColumnType::Int64; break;
      case H5T_FLOAT: column_type = ColumnType::Float64; break;
      case H5T_STRING:
        if (H5Tis_variable_str(type.get()) > 0) throw H5Error(what + ": variable-length strings are not supported");
        column_type = ColumnType::String;
        width = H5Tget_size(type.get());
        break;
      default: throw H5Error(what + ": unsupported type");
    }
    if (H5Sget_simple_extent_ndims(space.get()) != 1) throw H5Error(what + ": not a 1-D dataset");
    hsize_t dims = 0;
    check_h5(H5Sget_simple_extent_dims(space.get(), &dims, nullptr), what);
    lengths_.push_back(static_cast<std::int64_t>(dims));
    rows_ = std::min(rows_, static_cast<std::int64_t>(dims));
    schema_.push_back({name, column_type});
    string_widths_.push_back(width);
    datasets_.push_back(std::move(dataset));
  }
}

void ZoneChunkReader::set_range(std::int64_t begin, std::int64_t end) {
  end_ = std::clamp<std::int64_t>(end, 0, rows_);
  position_ = std::clamp<std::int64_t>(begin, 0, end_);
}

bool ZoneChunkReader::next(Table& chunk, std::int64_t max_rows) {
  chunk = Table(schema_);
  const std::int64_t end = end_ < 0 ? rows_ : end_;
  if (position_ >= end) return false;
  const std::int64_t count64 = std::min(end - position_, std::max<std::int64_t>(max_rows, 1));
  const hsize_t start = static_cast<hsize_t>(position_), count = static_cast<hsize_t>(count64);
  for (std::size_t c = 0; c < datasets_.size(); ++c) {
    const std::string what = where_ + ": dataset '" + names_[c] + "' rows " + std::to_string(position_) + ".." +
                             std::to_string(position_ + count64);
    H5Handle file_space(H5Dget_space(datasets_[c].get()), H5Sclose, what);
    check_h5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr), what);
    H5Handle memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose, what);
    switch (schema_[c].type) {
      case ColumnType::Int64: {
        auto& values = chunk.ints(c);
        values.resize(count);
        check_h5(H5Dread(datasets_[c].get(), H5T_NATIVE_INT64, memory_space.get(), file_space.get(), H5P_DEFAULT,
                         values.data()),
                 what + ": read");
        break;
      }
      case ColumnType::Float64: {
        auto& values = chunk.floats(c);
        values.resize(count);
        check_h5(H5Dread(datasets_[c].get(), H5T_NATIVE_DOUBLE, memory_space.get(), file_space.get(), H5P_DEFAULT,
                         values.data()),
                 what + ": read");
        break;
      }
      case ColumnType::String: {
        const std::size_t width = string_widths_[c];
        H5Handle type(H5Dget_type(datasets_[c].get()), H5Tclose, what);
        std::string packed(width * count, '\0');
        check_h5(
            H5Dread(datasets_[c].get(), type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT, packed.data()),
            what + ": read");
        auto& values = chunk.strings(c);
        values.reserve(count, packed.size());
        for (hsize_t r = 0; r < count; ++r) {
          const std::string_view value(packed.data() + r * width, width);
          values.push_back(value.substr(0, value.find('\0')));
        }
        break;
      }
    }
  }
  chunk.set_rows_from_columns();
  chunk_start_ = position_;
  position_ += count64;
  return true;
}

}  // namespace mpilake
