#include "mpilake/quarantine/quarantine.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
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

namespace {
// The quarantine's order: (source, file, offset).
bool record_less(const Table& a, std::size_t i, const Table& b, std::size_t j) {
  return std::make_tuple(a.strings(kSource)[i], a.strings(kFile)[i], a.ints(kOffset)[i]) <
         std::make_tuple(b.strings(kSource)[j], b.strings(kFile)[j], b.ints(kOffset)[j]);
}
}  // namespace

Quarantine::Quarantine()
    : records_(std::make_unique<SortedRuns>(schema(), record_less, nullptr, "quarantine", 0)),
      longest_(schema().size(), 0) {}

void Quarantine::spill_to(ScratchFolder& folder, std::size_t memory_bytes) {
  if (records_->rows() > 0) throw std::logic_error("Quarantine::spill_to after the first record");
  records_ = std::make_unique<SortedRuns>(schema(), record_less, &folder, "quarantine", memory_bytes);
}

void Quarantine::add(std::string_view source, std::string_view file, std::int64_t byte_offset, std::string_view reason,
                     std::string_view raw_line) {
  if (!spill_error_.empty()) return;  // the run stops at the next check; nothing more is kept
  Table& records = records_->tail();
  std::string raw(raw_line.substr(0, kRawPrefixBytes));
  // NUL bytes would be cut by the HDF5 fixed-length strings: show them visibly instead.
  std::replace(raw.begin(), raw.end(), '\0', '?');
  records.strings(kSource).push_back(source);
  records.strings(kFile).push_back(file);
  records.ints(kOffset).push_back(byte_offset);
  records.strings(kReason).push_back(reason);
  records.strings(kRaw).push_back(raw);
  records.commit_row();
  longest_[kSource] = std::max(longest_[kSource], source.size());
  longest_[kFile] = std::max(longest_[kFile], file.size());
  longest_[kReason] = std::max(longest_[kReason], reason.size());
  longest_[kRaw] = std::max(longest_[kRaw], raw.size());
  try {
    records_->after_append();
  } catch (const std::exception& e) {
    spill_error_ = e.what();
  }
}

std::int64_t write_quarantine(const Comm& comm, Quarantine& quarantine, const std::filesystem::path& jsonl_path,
                              const std::filesystem::path& h5_path, const std::vector<Attribute>& attributes) {
  comm.throw_if_any(quarantine.spill_error());
  SortedRuns& records = *quarantine.records_;
  on_every_rank(comm, [&] { records.finish(); });
  const Schema schema = Quarantine::schema();
  // The zone's plan: its rows, and each string column's longest value (at least 1), as write_zone picks.
  ZoneAppendPlan plan;
  plan.rows = comm.allreduce_sum(records.rows());
  for (std::size_t c = 0; c < schema.size(); ++c) {
    if (schema[c].type != ColumnType::String) continue;
    const auto longest = static_cast<std::int64_t>(std::max<std::size_t>(1, quarantine.longest_[c]));
    plan.string_widths[schema[c].name] = static_cast<std::size_t>(comm.allreduce_max(longest));
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

  // Rank 0 holds chunks of about 4 MB from all ranks together (a record is a few hundred bytes), and
  // a merged batch of at most as much.
  const std::size_t chunk_rows =
      std::max<std::size_t>(64, (std::size_t{4} << 20) / 400 / static_cast<std::size_t>(comm.size()));
  std::string text;
  const SortedChunks next = [&](std::size_t count, Table& chunk) { records.next(count, chunk); };
  merge_to_root(comm, schema, records.rows(), next, record_less, chunk_rows, [&](const Table& batch) {
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
