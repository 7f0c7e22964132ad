#pragma once
// Parses this rank's byte range of one landing source into a Table, quarantining bad lines.
#include <cstdint>
#include <functional>
#include <string>

#include "mpilake/io/landing.hpp"
#include "mpilake/json/record_parser.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/quarantine/quarantine.hpp"
#include "mpilake/table/table.hpp"
#include "mpilake/util/progress_callback.hpp"

namespace mpilake {

struct SourceStats {
  std::int64_t files = 0;
  std::int64_t bytes = 0;       // landing bytes of the source (all files)
  std::int64_t bytes_read = 0;  // bytes this rank actually read
  std::int64_t lines = 0;       // non-blank lines read
  std::int64_t blank_lines = 0;
  std::int64_t accepted = 0;
  std::int64_t quarantined = 0;
  // Sums the counters over the ranks (files and bytes are global already).
  SourceStats summed(const Comm& comm) const;
};

struct ParseOptions {
  std::size_t chunk_bytes = std::size_t{4} << 20;  // read size per batch
  ProgressCallback on_progress;                    // bytes of this rank's range parsed so far
};

// Not collective: reads only this rank's share (split_byte_range(source, rank, size)).
Table parse_source(const Comm& comm, const SourceFiles& source, RecordParser& parser, Quarantine& quarantine,
                   SourceStats& stats, const ParseOptions& options = {});

// Sizes a table's columns once for a whole byte range, from the rows (and string bytes) per input
// byte of the first MB or so parsed, plus 10%: the columns then grow once instead of doubling (and
// copying) all the way up. Only a hint: capped at twice the input; a reservation that fails is
// dropped. parse_source uses it for its table; a sink of parse_source_into for the rows it keeps.
class RangeReservation {
 public:
  // After each batch: `parsed_bytes` of this rank's `range_bytes` are done, `table` holds its rows.
  void after_batch(Table& table, std::int64_t parsed_bytes, std::int64_t range_bytes);

 private:
  static constexpr std::int64_t kSampleBytes = std::int64_t{1} << 20;
  bool done_ = false;
};

// Where parse_source_into puts the rows: called after each batch of lines (a few MB of input) with
// the accepted rows of that batch in input order, `parsed_bytes` of this rank's `range_bytes` done.
// It takes what it needs (filters, encodes, appends to its own columns); the rows are cleared after
// each call, so the batch table stays small and warm in cache instead of holding the whole range.
using ParsedRowSink = std::function<void(Table& rows, std::int64_t parsed_bytes, std::int64_t range_bytes)>;

// parse_source with the rows handed to `sink` batch by batch (a filter pushed down into the parse):
// the lines, stats and quarantine are exactly those of parse_source.
void parse_source_into(const Comm& comm, const SourceFiles& source, RecordParser& parser, Quarantine& quarantine,
                       SourceStats& stats, const ParseOptions& options, const ParsedRowSink& sink);

}  // namespace mpilake
