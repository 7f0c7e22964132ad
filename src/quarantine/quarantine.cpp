#include "mpilake/quarantine/quarantine.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <vector>

#include "mpilake/io/atomic_file.hpp"
#include "mpilake/shuffle/exchange.hpp"
#include "mpilake/util/json_writer.hpp"

namespace mpilake {

namespace {
enum Column : std::size_t { kSource, kFile, kOffset, kReason, kRaw };
}

Schema Quarantine::schema() {
  return {{"source", ColumnType::String},
          {"file", ColumnType::String},
          {"byte_offset", ColumnType::Int64},
          {"reason", ColumnType::String},
          {"raw", ColumnType::String}};
}

Quarantine::Quarantine() : records_(schema()) {}

void Quarantine::add(std::string_view source, std::string_view file, std::int64_t byte_offset, std::string_view reason,
                     std::string_view raw_line) {
  records_.strings(kSource).push_back(source);
  records_.strings(kFile).push_back(file);
  records_.ints(kOffset).push_back(byte_offset);
  records_.strings(kReason).push_back(reason);
  std::string raw(raw_line.substr(0, kRawPrefixBytes));
  // NUL bytes would be cut by the HDF5 fixed-length strings: show them visibly instead.
  std::replace(raw.begin(), raw.end(), '\0', '?');
  records_.strings(kRaw).push_back(raw);
  records_.commit_row();
}

Table write_quarantine_jsonl(const Comm& comm, const Quarantine& quarantine, const std::filesystem::path& path) {
  const Table& local = quarantine.records();
  const std::vector<int> to_root(local.num_rows(), 0);
  Table all = exchange_rows(comm, local, to_root, ExchangeOptions{});

  Table sorted(Quarantine::schema());
  comm.on_root([&] {
    std::vector<std::size_t> order(all.num_rows());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::make_tuple(all.strings(kSource)[a], all.strings(kFile)[a], all.ints(kOffset)[a]) <
             std::make_tuple(all.strings(kSource)[b], all.strings(kFile)[b], all.ints(kOffset)[b]);
    });
    sorted = all.take(order);
    std::string text;
    for (std::size_t r = 0; r < sorted.num_rows(); ++r) {
      JsonWriter line(false);
      line.begin_object()
          .value("source", sorted.strings(kSource)[r])
          .value("file", sorted.strings(kFile)[r])
          .value("byte_offset", sorted.ints(kOffset)[r])
          .value("reason", sorted.strings(kReason)[r])
          .value("raw", sorted.strings(kRaw)[r])
          .end_object();
      text += line.str();
      text += '\n';
    }
    write_file_atomically(path, text);
  });
  return sorted;
}

}  // namespace mpilake
