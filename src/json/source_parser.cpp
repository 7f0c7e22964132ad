#include "mpilake/json/source_parser.hpp"

#include <simdjson.h>

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

Table parse_source(const Comm& comm, const SourceFiles& source, RecordParser& parser, Quarantine& quarantine,
                   SourceStats& stats, const ParseOptions& options) {
  Table table(parser.schema().table_schema());
  stats.files = static_cast<std::int64_t>(source.files.size());
  stats.bytes = source.total_bytes();
  std::vector<Line> lines;
  std::string reason;
  for (const FileSegment& segment : split_byte_range(source, comm.rank(), comm.size())) {
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
    }
    stats.bytes_read += reader.bytes_read();
  }
  return table;
}

}  // namespace mpilake
