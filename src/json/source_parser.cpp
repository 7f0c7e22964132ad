#include "mpilake/json/source_parser.hpp"

#include <simdjson.h>

#include <algorithm>
#include <type_traits>
#include <variant>

#include "mpilake/io/line_reader.hpp"

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

// Reserves room in every column for `rows` rows, and in string columns for `scale` times the bytes
// they hold now: the columns then grow once instead of doubling (and copying) all the way up.
void reserve_columns(Table& table, std::size_t rows, double scale, std::size_t max_bytes) {
  for (std::size_t c = 0; c < table.num_columns(); ++c) {
    std::visit(
        [&](auto& column) {
          if constexpr (std::is_same_v<std::decay_t<decltype(column)>, StringColumn>) {
            const auto bytes = static_cast<std::size_t>(static_cast<double>(column.byte_size()) * scale);
            column.reserve(rows, std::min(bytes, max_bytes));
          } else {
            column.reserve(rows);
          }
        },
        table.column(c));
  }
}

}  // namespace

Table parse_source(const Comm& comm, const SourceFiles& source, RecordParser& parser, Quarantine& quarantine,
                   SourceStats& stats, const ParseOptions& options) {
  Table table(parser.schema().table_schema());
  stats.files = static_cast<std::int64_t>(source.files.size());
  stats.bytes = source.total_bytes();
  std::vector<Line> lines;
  std::string reason;
  const std::vector<FileSegment> segments = split_byte_range(source, comm.rank(), comm.size());
  std::int64_t range_bytes = 0;
  for (const FileSegment& segment : segments) range_bytes += segment.end - segment.begin;
  std::int64_t batch_bytes = 0;  // line bytes parsed before the columns were reserved (0: not yet)
  for (const FileSegment& segment : segments) {
    const LandingFile& file = source.files[segment.file_index];
    LineReader reader(file.path, file.bytes, segment.begin, segment.end, options.chunk_bytes,
                      simdjson::SIMDJSON_PADDING);
    while (reader.next(lines)) {
      for (const Line& line : lines) {
        const char* text = reader.data() + line.start;
        switch (parser.parse(text, line.length, reader.capacity_from(line.start), table, reason)) {
          case LineOutcome::Blank: ++stats.blank_lines; break;
          case LineOutcome::Accepted:
            ++stats.lines;
            ++stats.accepted;
            break;
          case LineOutcome::Rejected:
            ++stats.lines;
            ++stats.quarantined;
            quarantine.add(source.source, file.path, line.file_offset, reason, std::string_view(text, line.length));
            break;
        }
      }
      // After the first batch, size the columns for the whole range at this batch's rows and
      // string bytes per input byte (plus 10%), so they need not grow while parsing.
      if (batch_bytes == 0) {
        for (const Line& line : lines) batch_bytes += static_cast<std::int64_t>(line.length) + 1;
        if (batch_bytes > 0 && table.num_rows() > 0 && range_bytes > batch_bytes) {
          const double scale = 1.1 * static_cast<double>(range_bytes) / static_cast<double>(batch_bytes);
          const auto rows = static_cast<std::size_t>(static_cast<double>(table.num_rows()) * scale) + 64;
          reserve_columns(table, std::min(rows, static_cast<std::size_t>(range_bytes)), scale,
                          static_cast<std::size_t>(range_bytes));
        }
      }
    }
    stats.bytes_read += reader.bytes_read();
  }
  return table;
}

}  // namespace mpilake
