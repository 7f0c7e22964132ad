#include "mpilake/quarantine/quarantine.hpp"

#include <algorithm>
#include <numeric>
#include <optional>
#include <tuple>
#include <vector>

#include "mpilake/h5/zone_appender.hpp"
#include "mpilake/io/atomic_file.hpp"
#include "mpilake/mpi/every_rank.hpp"
#include "mpilake/shuffle/merge_to_root.hpp"
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

std::int64_t write_quarantine(const Comm& comm, const Quarantine& quarantine, const std::filesystem::path& jsonl_path,
                              const std::filesystem::path& h5_path, const std::vector<Attribute>& attributes) {
  const Table& local = quarantine.records();
  // The zone's plan: its rows, and each string column's longest value (at least 1), as write_zone picks.
  ZoneAppendPlan plan;
  plan.rows = comm.allreduce_sum(static_cast<std::int64_t>(local.num_rows()));
  for (std::size_t c = 0; c < local.num_columns(); ++c) {
    if (local.schema()[c].type != ColumnType::String) continue;
    const auto longest = static_cast<std::int64_t>(std::max<std::size_t>(1, local.strings(c).max_length()));
    plan.string_widths[local.schema()[c].name] = static_cast<std::size_t>(comm.allreduce_max(longest));
  }
  // Chunks of 4096 rows: a record is wide (its raw line alone takes 256 bytes), and the writer's
  // buffers follow the chunk (32768 rows would be 8 MB of raw text per chunk).
  ZoneLayout layout;
  layout.chunk_rows = 4096;
  ZoneAppender zone(comm, h5_path, Quarantine::schema(), plan, layout);
  std::optional<AtomicFileWriter> jsonl;
  on_every_rank(comm, [&] {
    if (comm.is_root()) jsonl.emplace(jsonl_path);
  });

  std::vector<std::size_t> order(local.num_rows());
  std::iota(order.begin(), order.end(), 0);
  const auto key = [](const Table& t, std::size_t r) {
    return std::make_tuple(t.strings(kSource)[r], t.strings(kFile)[r], t.ints(kOffset)[r]);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return key(local, a) < key(local, b); });
  const RowLess less = [&](const Table& a, std::size_t i, const Table& b, std::size_t j) {
    return key(a, i) < key(b, j);
  };
  // Rank 0 holds chunks of about 4 MB from all ranks together (a record is a few hundred bytes), and
  // a merged batch of at most as much.
  const std::size_t chunk_rows =
      std::max<std::size_t>(64, (std::size_t{4} << 20) / 400 / static_cast<std::size_t>(comm.size()));
  std::string text;
  merge_to_root(comm, local, order, less, chunk_rows, [&](const Table& batch) {
    on_every_rank(comm, [&] {
      if (!jsonl) return;
      text.clear();
      for (std::size_t r = 0; r < batch.num_rows(); ++r) {
        JsonWriter line(false);
        line.begin_object()
            .value("source", batch.strings(kSource)[r])
            .value("file", batch.strings(kFile)[r])
            .value("byte_offset", batch.ints(kOffset)[r])
            .value("reason", batch.strings(kReason)[r])
            .value("raw", batch.strings(kRaw)[r])
            .end_object();
        text += line.str();
        text += '\n';
      }
      jsonl->append(text);
    });
    zone.append(batch);
  });
  on_every_rank(comm, [&] {
    if (jsonl) jsonl->commit();
  });
  zone.finish(attributes);
  return plan.rows;
}

}  // namespace mpilake
