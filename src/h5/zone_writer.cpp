#include "mpilake/h5/zone_writer.hpp"

#include <stdexcept>
#include <string_view>

#include "mpilake/h5/handle.hpp"
#include "mpilake/mpi/fault.hpp"
#include "zone_datasets.hpp"

namespace mpilake {

namespace {

using namespace zone_detail;

ZoneWriteResult write_and_publish(const Comm& comm, const std::filesystem::path& path, const Table& rows,
                                  const std::vector<Attribute>& attributes, const ZoneLayout& layout,
                                  const std::vector<const Table*>& extra,
                                  const std::vector<DictionaryColumn>& dictionaries) {
  silence_hdf5_errors();
  const std::filesystem::path temporary = temporary_path_for(path);
  const std::string where = "writing '" + path.string() + "'";
  OpenZone zone = create_zone_file(comm, temporary, layout, where);

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
      result.bytes += write_column(comm, zone.file.get(), zone.transfer.get(), rows, c, layout, where, dictionary);
      wrote_one();
    }
    fault_point("write", comm);  // crash tests: die with the zone half-written
    for (const Table* table : extra)
      for (std::size_t c = 0; c < table->num_columns(); ++c) {
        result.bytes += write_column(comm, zone.file.get(), zone.transfer.get(), *table, c, layout, where, nullptr);
        wrote_one();
      }
    write_root_attributes(zone.file.get(), attributes, result.rows, column_names);
    zone.file.close(where + ": close");
  } catch (...) {
    zone.file.abandon();
    throw;
  }
  publish(comm, temporary, path, where);
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
