// libFuzzer target for the NDJSON line parser and normaliser (RecordParser, DESIGN.md "Normalise").
// Built and run by scripts/fuzz.sh with -fsanitize=fuzzer,address,undefined; needs no MPI.
//
// For each STEDI schema (customer, accelerometer, step_trainer) it parses
//   1. the whole input as one line, from a heap buffer holding exactly the input plus
//      simdjson::SIMDJSON_PADDING zero bytes (ASan catches any read past the padding);
//   2. every '\n'-separated line, each from its own exactly padded copy, with one parser reused
//      across lines as the pipeline does;
//   3. every line again in place inside the whole buffer (the bytes after the line are the next
//      lines, as in the pipeline's chunk), which must give the same outcome and the same row;
//   4. all lines at once through parse_lines (the canonical path, runs of iterate_many, then
//      parse()), which must give the rows, rejects and reasons of 3.
// Invariants: Accepted appends exactly one row (every column grows by one), Blank and Rejected
// append none, and Rejected gives a non-empty reason.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mpilake/json/record_parser.hpp"
#include "mpilake/stedi/schema.hpp"
#include "mpilake/table/table.hpp"

namespace {

using mpilake::LineOutcome;
using mpilake::RecordParser;
using mpilake::RecordSchema;
using mpilake::Table;

[[noreturn]] void fail(const char* what, const RecordSchema& schema, std::string_view line) {
  std::fprintf(stderr, "record_parser_fuzz: %s (source %s, line of %zu bytes)\n", what, schema.source.c_str(),
               line.size());
  std::abort();
}

std::size_t column_length(const Table& table, std::size_t column) {
  const auto& data = table.column(column);
  if (const auto* ints = std::get_if<0>(&data)) return ints->size();
  if (const auto* floats = std::get_if<1>(&data)) return floats->size();
  return std::get<2>(data).size();
}

void check_shape(const Table& table, const RecordSchema& schema, std::string_view line) {
  for (std::size_t c = 0; c < table.num_columns(); ++c) {
    if (column_length(table, c) != table.num_rows()) fail("a column's length differs from the row count", schema, line);
  }
}

bool same_row(const Table& a, std::size_t row_a, const Table& b, std::size_t row_b) {
  for (std::size_t c = 0; c < a.num_columns(); ++c) {
    const auto& x = a.column(c);
    const auto& y = b.column(c);
    switch (x.index()) {
      case 0:
        if (std::get<0>(x)[row_a] != std::get<0>(y)[row_b]) return false;
        break;
      case 1: {
        const double u = std::get<1>(x)[row_a];
        const double v = std::get<1>(y)[row_b];
        if (std::memcmp(&u, &v, sizeof u) != 0) return false;
        break;
      }
      default:
        if (std::get<2>(x)[row_a] != std::get<2>(y)[row_b]) return false;
    }
  }
  return true;
}

// Parses data[0, length) with `capacity` readable bytes and checks the invariants.
LineOutcome parse_checked(RecordParser& parser, const char* data, std::size_t length, std::size_t capacity,
                          Table& table, std::string& reason) {
  const RecordSchema& schema = parser.schema();
  const std::string_view line(data, length);
  const std::size_t rows_before = table.num_rows();
  reason.clear();
  const LineOutcome outcome = parser.parse(data, length, capacity, table, reason);
  const std::size_t added = table.num_rows() - rows_before;
  switch (outcome) {
    case LineOutcome::Accepted:
      if (added != 1) fail("Accepted did not append exactly one row", schema, line);
      break;
    case LineOutcome::Blank:
      if (added != 0) fail("Blank appended a row", schema, line);
      break;
    case LineOutcome::Rejected:
      if (added != 0) fail("Rejected appended a row", schema, line);
      if (reason.empty()) fail("Rejected without a reason", schema, line);
      break;
    default: fail("unknown outcome", schema, line);
  }
  check_shape(table, schema, line);
  return outcome;
}

// An exactly sized heap copy of `text` followed by SIMDJSON_PADDING zero bytes.
struct Padded {
  explicit Padded(std::string_view text)
      : capacity(text.size() + simdjson::SIMDJSON_PADDING), bytes(new char[capacity]) {
    if (!text.empty()) std::memcpy(bytes.get(), text.data(), text.size());
    std::memset(bytes.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
  }
  std::size_t capacity;
  std::unique_ptr<char[]> bytes;
};

struct Source {
  RecordSchema schema;
  RecordParser parser;
  explicit Source(RecordSchema s) : schema(s), parser(std::move(s)) {}
};

std::vector<Source>& sources() {
  static std::vector<Source> all = [] {
    std::vector<Source> v;
    v.emplace_back(mpilake::stedi::customer_schema());
    v.emplace_back(mpilake::stedi::accelerometer_schema());
    v.emplace_back(mpilake::stedi::step_trainer_schema());
    return v;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Padded whole(input);

  // Line boundaries, as the line reader finds them.
  std::vector<std::pair<std::size_t, std::size_t>> lines;  // start, length
  for (std::size_t start = 0; start <= size;) {
    const std::size_t end = input.find('\n', start);
    const std::size_t stop = end == std::string_view::npos ? size : end;
    lines.emplace_back(start, stop - start);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }

  std::string reason;
  for (Source& source : sources()) {
    // 1. The whole input as one line.
    {
      Table table(source.schema.table_schema());
      parse_checked(source.parser, whole.bytes.get(), size, whole.capacity, table, reason);
    }

    // 2. Each line from its own exactly padded copy; 3. the same line in place in the whole buffer.
    Table copied(source.schema.table_schema());
    Table in_place(source.schema.table_schema());
    std::string reason_in_place;
    std::vector<std::pair<std::size_t, std::string>> rejects_in_place;
    std::int64_t blank_in_place = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const auto [start, length] = lines[i];
      const Padded line(input.substr(start, length));
      const LineOutcome a = parse_checked(source.parser, line.bytes.get(), length, line.capacity, copied, reason);
      const LineOutcome b = parse_checked(source.parser, whole.bytes.get() + start, length, whole.capacity - start,
                                          in_place, reason_in_place);
      const std::string_view text = input.substr(start, length);
      if (a != b) fail("the outcome depends on the bytes after the line", source.schema, text);
      if (a == LineOutcome::Rejected && reason != reason_in_place) {
        fail("the reason depends on the bytes after the line", source.schema, text);
      }
      if (a == LineOutcome::Accepted && !same_row(copied, copied.num_rows() - 1, in_place, in_place.num_rows() - 1)) {
        fail("the row depends on the bytes after the line", source.schema, text);
      }
      if (b == LineOutcome::Rejected) rejects_in_place.emplace_back(i, reason_in_place);
      blank_in_place += b == LineOutcome::Blank;
    }

    // 4. Every line at once, as parse_source parses a batch.
    std::vector<mpilake::Line> batch;
    for (const auto& [start, length] : lines) batch.push_back({static_cast<std::int64_t>(start), start, length});
    Table together(source.schema.table_schema());
    std::vector<std::pair<std::size_t, std::string>> rejects_together;
    const auto result = source.parser.parse_lines(
        whole.bytes.get(), whole.capacity, batch, together,
        [&](std::size_t i, const std::string& why) { rejects_together.emplace_back(i, why); });
    if (rejects_together != rejects_in_place) fail("parse_lines rejects other lines or reasons", source.schema, input);
    if (result.blank != blank_in_place) fail("parse_lines counts other blank lines", source.schema, input);
    if (together.num_rows() != in_place.num_rows()) fail("parse_lines gives another row count", source.schema, input);
    for (std::size_t r = 0; r < together.num_rows(); ++r)
      if (!same_row(together, r, in_place, r)) fail("parse_lines gives another row", source.schema, input);
  }
  return 0;
}
