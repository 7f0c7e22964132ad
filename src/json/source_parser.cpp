#include "mpilake/json/source_parser.hpp"

#include <simdjson.h>

#include <algorithm>
#include <new>
#include <type_traits>
#include <variant>

#include "mpilake/io/range_lines.hpp"
#include "mpilake/util/huge_pages.hpp"

namespace mpilake {

SourceStats SourceStats::summed(const Comm& comm) const {
  const auto sums = comm.allreduce_sum({bytes_read, lines, blank_lines, accepted, quarantined});
  SourceStats total = *this;
  total.bytes_read = sums[0];
  total.lines = sums[1];
  total.blank_lines = sums[2];
  total.accepted = sums[3];
  total.quarantined = sums[4];
  return total;
}

namespace {

// Reserves room for the rows of `range_bytes` of input, estimated from the `sampled_bytes` parsed
// so far, plus 10%: the columns then grow once instead of doubling (and copying) all the way up.
// Only a hint: the estimate is capped at twice the input, and a reservation that fails is dropped.
void reserve_for_range(Table& table, std::int64_t range_bytes, std::int64_t sampled_bytes) {
  if (table.num_rows() == 0 || sampled_bytes <= 0 || range_bytes <= sampled_bytes) return;
  double scale = 1.1 * static_cast<double>(range_bytes) / static_cast<double>(sampled_bytes);
  double table_bytes = 0;  // what the reservation would hold
  for (std::size_t c = 0; c < table.num_columns(); ++c) {
    const auto* strings = std::get_if<StringColumn>(&table.column(c));
    table_bytes += static_cast<double>(table.num_rows() * sizeof(std::uint64_t)) +
                   (strings ? static_cast<double>(strings->byte_size()) : 0.0);
  }
  scale = std::min(scale, 2.0 * static_cast<double>(range_bytes) / table_bytes);
  if (scale <= 1.0) return;
  const auto rows = static_cast<std::size_t>(static_cast<double>(table.num_rows()) * scale) + 64;
  try {
    for (std::size_t c = 0; c < table.num_columns(); ++c) {
      std::visit(
          [&](auto& column) {
            if constexpr (std::is_same_v<std::decay_t<decltype(column)>, StringColumn>) {
              column.reserve(rows, static_cast<std::size_t>(static_cast<double>(column.byte_size()) * scale));
            } else {
              reserve_huge(column, rows);
            }
          },
          table.column(c));
    }
  } catch (const std::bad_alloc&) {
    // Not enough memory to reserve it all at once: the columns grow as they need to.
  }
}

}  // namespace

void RangeReservation::after_batch(Table& table, std::int64_t parsed_bytes, std::int64_t range_bytes) {
  if (done_ || parsed_bytes < std::min(kSampleBytes, range_bytes)) return;
  done_ = true;
  reserve_for_range(table, range_bytes, parsed_bytes);
}

namespace {

// Parses one batch of lines into `table` (RecordParser::parse_lines), quarantining its bad lines.
void parse_batch(const LineBatch& batch, const SourceFiles& source, RecordParser& parser, Table& table,
                 Quarantine& quarantine, SourceStats& stats) {
  const char* const data = batch.reader.data();
  const auto result = parser.parse_lines(data, batch.reader.capacity_from(0), batch.lines, table,
                                         [&](std::size_t i, const std::string& reason) {
                                           const Line& line = batch.lines[i];
                                           quarantine.add(source.source, batch.file.path, line.file_offset, reason,
                                                          std::string_view(data + line.start, line.length));
                                         });
  stats.blank_lines += result.blank;
  stats.lines += result.accepted + result.rejected;
  stats.accepted += result.accepted;
  stats.quarantined += result.rejected;
}

// The input bytes of a batch's lines, each with its newline.
std::int64_t batch_bytes(const LineBatch& batch) {
  std::int64_t bytes = 0;
  for (const Line& line : batch.lines) bytes += static_cast<std::int64_t>(line.length) + 1;
  return bytes;
}

void start_stats(const SourceFiles& source, SourceStats& stats) {
  stats.files = static_cast<std::int64_t>(source.files.size());
  stats.bytes = source.total_bytes();
}

}  // namespace

Table parse_source(const Comm& comm, const SourceFiles& source, RecordParser& parser, Quarantine& quarantine,
                   SourceStats& stats, const ParseOptions& options) {
  Table table(parser.table_schema());
  start_stats(source, stats);
  const std::int64_t range = range_bytes(source, comm.rank(), comm.size());
  std::int64_t parsed_bytes = 0;
  RangeReservation reservation;
  stats.bytes_read += read_range_lines(source, comm.rank(), comm.size(), options.chunk_bytes,
                                       simdjson::SIMDJSON_PADDING, options.on_progress, [&](const LineBatch& batch) {
                                         parse_batch(batch, source, parser, table, quarantine, stats);
                                         parsed_bytes += batch_bytes(batch);
                                         reservation.after_batch(table, parsed_bytes, range);
                                       });
  return table;
}

void parse_source_into(const Comm& comm, const SourceFiles& source, RecordParser& parser, Quarantine& quarantine,
                       SourceStats& stats, const ParseOptions& options, const ParsedRowSink& sink) {
  Table batch_rows(parser.table_schema());
  start_stats(source, stats);
  const std::int64_t range = range_bytes(source, comm.rank(), comm.size());
  std::int64_t parsed_bytes = 0;
  stats.bytes_read += read_range_lines(source, comm.rank(), comm.size(), options.chunk_bytes,
                                       simdjson::SIMDJSON_PADDING, options.on_progress, [&](const LineBatch& batch) {
                                         parse_batch(batch, source, parser, batch_rows, quarantine, stats);
                                         parsed_bytes += batch_bytes(batch);
                                         sink(batch_rows, std::min(parsed_bytes, range), range);
                                         batch_rows.truncate_rows(0);  // keeps the columns' capacity for the next batch
                                       });
}

}  // namespace mpilake
