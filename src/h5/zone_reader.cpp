#include "mpilake/h5/zone_reader.hpp"

#include <algorithm>
#include <cstring>

#include "mpilake/h5/handle.hpp"
#include "mpilake/h5/zone_chunks.hpp"

namespace mpilake {

namespace {

AttributeValue read_attribute(hid_t attribute, const std::string& name) {
  H5Handle type(H5Aget_type(attribute), H5Tclose, "type of attribute " + name);
  H5Handle space(H5Aget_space(attribute), H5Sclose, "space of attribute " + name);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  const bool scalar = rank == 0;
  switch (H5Tget_class(type.get())) {
    case H5T_INTEGER: {
      std::vector<std::int64_t> values(static_cast<std::size_t>(count));
      check_h5(H5Aread(attribute, H5T_NATIVE_INT64, values.data()), "read attribute " + name);
      if (scalar) return values.at(0);
      return values;
    }
    case H5T_STRING: {
      std::vector<std::string> values;
      if (H5Tis_variable_str(type.get()) > 0) {
        std::vector<char*> pointers(static_cast<std::size_t>(count));
        H5Handle memory(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
        check_h5(H5Tset_size(memory.get(), H5T_VARIABLE), "H5Tset_size");
        check_h5(H5Aread(attribute, memory.get(), pointers.data()), "read attribute " + name);
        for (char* p : pointers) values.emplace_back(p ? p : "");
        H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
      } else {
        const std::size_t width = H5Tget_size(type.get());
        std::string packed(width * static_cast<std::size_t>(count), '\0');
        check_h5(H5Aread(attribute, type.get(), packed.data()), "read attribute " + name);
        for (hssize_t i = 0; i < count; ++i) {
          std::string value = packed.substr(static_cast<std::size_t>(i) * width, width);
          value.resize(std::strlen(value.c_str()));
          values.push_back(value);
        }
      }
      if (scalar) return values.at(0);
      return values;
    }
    case H5T_FLOAT: {
      std::vector<double> values(static_cast<std::size_t>(count));
      check_h5(H5Aread(attribute, H5T_NATIVE_DOUBLE, values.data()), "read attribute " + name);
      std::vector<std::string> texts;
      for (double v : values) texts.push_back(std::to_string(v));
      if (scalar) return texts.at(0);
      return texts;
    }
    default: return std::string("(unsupported attribute type)");
  }
}

herr_t collect_attribute(hid_t location, const char* name, const H5A_info_t*, void* client) {
  auto& attributes = *static_cast<std::vector<Attribute>*>(client);
  H5Handle attribute(H5Aopen(location, name, H5P_DEFAULT), H5Aclose, std::string("open attribute ") + name);
  attributes.push_back({name, read_attribute(attribute.get(), name)});
  return 0;
}

herr_t collect_dataset_name(hid_t, const char* name, const H5L_info_t*, void* client) {
  static_cast<std::vector<std::string>*>(client)->push_back(name);
  return 0;
}

}  // namespace

std::string attribute_text(const AttributeValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(v);
        } else {
          std::string text = "[";
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) text += ", ";
            if constexpr (std::is_same_v<T, std::vector<std::string>>)
              text += v[i];
            else
              text += std::to_string(v[i]);
          }
          return text + "]";
        }
      },
      value);
}

ZoneFile read_zone(const std::filesystem::path& path, std::int64_t max_rows) {
  silence_hdf5_errors();
  const std::string where = "reading '" + path.string() + "'";
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, where);
  ZoneFile zone;
  hsize_t index = 0;
  check_h5(H5Aiterate2(file.get(), H5_INDEX_CRT_ORDER, H5_ITER_NATIVE, &index, collect_attribute, &zone.attributes),
           where + ": attributes");

  hsize_t link_index = 0;
  check_h5(H5Literate(file.get(), H5_INDEX_NAME, H5_ITER_INC, &link_index, collect_dataset_name, &zone.datasets),
           where + ": datasets");
  std::vector<std::string> names;
  for (const auto& attribute : zone.attributes)
    if (attribute.name == "columns" && std::holds_alternative<std::vector<std::string>>(attribute.value))
      names = std::get<std::vector<std::string>>(attribute.value);
  if (names.empty()) names = zone.datasets;

  Schema schema;
  for (const auto& name : names) {
    const std::string what = where + ": dataset '" + name + "'";
    H5Handle dataset(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT), H5Dclose, what);
    H5Handle type(H5Dget_type(dataset.get()), H5Tclose, what);
    H5Handle space(H5Dget_space(dataset.get()), H5Sclose, what);
    ColumnInfo info{name, ColumnType::Int64};
    switch (H5Tget_class(type.get())) {
      case H5T_INTEGER: info.type = ColumnType::Int64; break;
      case H5T_FLOAT: info.type = ColumnType::Float64; break;
      case H5T_STRING:
        info.type = ColumnType::String;
        info.string_width = H5Tget_size(type.get());
        break;
      default: throw H5Error(what + ": unsupported type");
    }
    if (H5Aexists(dataset.get(), "null_value") > 0) {
      H5Handle attribute(H5Aopen(dataset.get(), "null_value", H5P_DEFAULT), H5Aclose, what + ": null_value");
      check_h5(H5Aread(attribute.get(), H5T_NATIVE_INT64, &info.null_value), what + ": read null_value");
      info.has_null_value = true;
    }
    hsize_t dims = 0;
    if (H5Sget_simple_extent_dims(space.get(), &dims, nullptr) != 1) throw H5Error(what + ": not a 1-D dataset");
    zone.rows = static_cast<std::int64_t>(dims);
    zone.columns.push_back(info);
    schema.push_back({name, info.type});
  }

  zone.table = Table(schema);
  const std::int64_t wanted = max_rows < 0 ? zone.rows : std::min(zone.rows, max_rows);
  if (wanted > 0) ZoneChunkReader(path, names).next(zone.table, wanted);
  return zone;
}

}  // namespace mpilake
