// Google Benchmark micro-benchmarks of mpilake's two per-row hot loops:
//   - the parser: mpilake::RecordParser on realistic landing lines of each source (the exact bytes of
//     `mpilake generate`, quirks included), throughput in landing bytes/s;
//   - partition + serialise: mpilake::partition_rows, the rows grouped by destination and encoded as
//     one columnar block per destination (what exchange_rows does before MPI_Alltoallv), throughput in
//     encoded bytes/s; and decode_column_block, the receiving side.
// Run: build-release/bench/micro_benchmarks [--benchmark_filter=Parse] [--benchmark_min_time=1]
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstring>
#include <string>
#include <vector>

#include "mpilake/json/record_parser.hpp"
#include "mpilake/shuffle/column_block.hpp"
#include "mpilake/shuffle/partitioner.hpp"
#include "mpilake/stedi/generate.hpp"
#include "mpilake/stedi/schema.hpp"
#include "mpilake/table/table.hpp"

namespace {

using mpilake::stedi::Source;

// One generated block's text per source, lines indexed, with SIMDJSON_PADDING after the text.
struct Lines {
  std::string text;  // padded copy
  std::size_t bytes = 0;
  std::vector<std::pair<std::size_t, std::size_t>> lines;  // (start, length without '\n')
};

const mpilake::stedi::GeneratedBlock& generated_block() {
  static const mpilake::stedi::GeneratedBlock block = [] {
    mpilake::stedi::GenerateOptions options;
    options.customers = 1000;  // ~1,000 customer, ~100k accelerometer and ~100k step-trainer lines
    options.readings_per_customer = 100;
    options.seed = 7;
    options.customers_per_file = 1000;
    return mpilake::stedi::generate_block(options, 0);
  }();
  return block;
}

const Lines& lines_of(Source source) {
  static Lines cache[3];
  Lines& lines = cache[static_cast<std::size_t>(source)];
  if (!lines.lines.empty()) return lines;
  std::string text = generated_block().text(source);
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
  lines.bytes = text.size();
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    lines.lines.emplace_back(at, end - at);
    at = end + 1;
  }
  lines.text = std::move(text);
  lines.text.append(simdjson::SIMDJSON_PADDING, '\0');
  return lines;
}

mpilake::RecordSchema schema_of(Source source) {
  switch (source) {
    case Source::customer: return mpilake::stedi::customer_schema();
    case Source::accelerometer: return mpilake::stedi::accelerometer_schema();
    case Source::step_trainer: return mpilake::stedi::step_trainer_schema();
  }
  return {};
}

// Parses every line of one source into a fresh table per iteration.
void BM_RecordParser(benchmark::State& state, Source source) {
  const Lines& lines = lines_of(source);
  mpilake::RecordParser parser(schema_of(source));
  const mpilake::Schema table_schema = parser.schema().table_schema();
  std::string reason;
  std::int64_t accepted = 0;
  for (auto _ : state) {
    mpilake::Table table(table_schema);
    for (const auto& [start, length] : lines.lines) {
      const auto outcome = parser.parse(lines.text.data() + start, length, lines.text.size() - start, table, reason);
      accepted += outcome == mpilake::LineOutcome::Accepted;
    }
    benchmark::DoNotOptimize(table.num_rows());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(lines.bytes));
  state.counters["lines/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * lines.lines.size()), benchmark::Counter::kIsRate);
  state.counters["accepted_share"] =
      static_cast<double>(accepted) / static_cast<double>(state.iterations() * lines.lines.size());
}
BENCHMARK_CAPTURE(BM_RecordParser, customer, Source::customer)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParser, accelerometer, Source::accelerometer)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParser, step_trainer, Source::step_trainer)->Unit(benchmark::kMillisecond);

// The parsed table of one source (built once).
const mpilake::Table& table_of(Source source) {
  static mpilake::Table cache[3];
  static bool built[3] = {false, false, false};
  const auto s = static_cast<std::size_t>(source);
  if (!built[s]) {
    const Lines& lines = lines_of(source);
    mpilake::RecordParser parser(schema_of(source));
    cache[s] = mpilake::Table(parser.schema().table_schema());
    std::string reason;
    for (const auto& [start, length] : lines.lines)
      parser.parse(lines.text.data() + start, length, lines.text.size() - start, cache[s], reason);
    built[s] = true;
  }
  return cache[s];
}

// The string column the pipeline hashes on for each source's first exchange.
std::size_t key_column(Source source) {
  switch (source) {
    case Source::customer: return mpilake::stedi::customer::kEmail;
    case Source::accelerometer: return mpilake::stedi::accelerometer::kUser;
    case Source::step_trainer: return mpilake::stedi::step_trainer::kSerialNumber;
  }
  return 0;
}

// partition_rows on hash(key), a stable counting sort of the rows by destination, then one columnar
// block per destination in one send buffer, as exchange_rows does (one round).
void BM_PartitionSerialise(benchmark::State& state, Source source) {
  const mpilake::Table& table = table_of(source);
  const int parts = static_cast<int>(state.range(0));
  const auto parts_n = static_cast<std::size_t>(parts);
  const auto& keys = table.strings(key_column(source));
  std::string send;
  std::int64_t encoded = 0;
  for (auto _ : state) {
    const std::vector<int> destination =
        mpilake::partition_rows(table.num_rows(), parts, [&](std::size_t r) { return mpilake::hash_bytes(keys[r]); });
    std::vector<std::size_t> start(parts_n + 1, 0);
    for (const int d : destination) ++start[static_cast<std::size_t>(d) + 1];
    for (std::size_t d = 0; d < parts_n; ++d) start[d + 1] += start[d];
    std::vector<std::size_t> order(table.num_rows());
    std::vector<std::size_t> next(start.begin(), start.end() - 1);
    for (std::size_t r = 0; r < table.num_rows(); ++r) order[next[static_cast<std::size_t>(destination[r])]++] = r;
    std::vector<std::size_t> offset(parts_n + 1, 0);
    for (std::size_t d = 0; d < parts_n; ++d)
      offset[d + 1] =
          offset[d] + mpilake::column_block_bytes(table, std::span(order).subspan(start[d], start[d + 1] - start[d]));
    send.resize(offset[parts_n]);
    for (std::size_t d = 0; d < parts_n; ++d)
      mpilake::encode_column_block(table, std::span(order).subspan(start[d], start[d + 1] - start[d]),
                                   send.data() + offset[d]);
    benchmark::DoNotOptimize(send.data());
    benchmark::ClobberMemory();
    encoded = static_cast<std::int64_t>(offset[parts_n]);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * encoded);
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * table.num_rows()), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_PartitionSerialise, accelerometer, Source::accelerometer)
    ->Arg(2)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PartitionSerialise, step_trainer, Source::step_trainer)
    ->Arg(2)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PartitionSerialise, customer, Source::customer)->Arg(2)->Unit(benchmark::kMillisecond);

// The receiving side: one block of every row decoded into a table sized beforehand.
void BM_DecodeBlock(benchmark::State& state, Source source) {
  const mpilake::Table& table = table_of(source);
  std::vector<std::size_t> all(table.num_rows());
  for (std::size_t r = 0; r < all.size(); ++r) all[r] = r;
  std::string bytes(mpilake::column_block_bytes(table, all), '\0');
  mpilake::encode_column_block(table, all, bytes.data());
  for (auto _ : state) {
    mpilake::Table decoded(table.schema());
    mpilake::BlockCursor cursor;
    for (std::size_t c = 0; c < table.num_columns(); ++c) {
      switch (table.schema()[c].type) {
        case mpilake::ColumnType::Int64: decoded.ints(c).resize(table.num_rows()); break;
        case mpilake::ColumnType::Float64: decoded.floats(c).resize(table.num_rows()); break;
        case mpilake::ColumnType::String:
          decoded.strings(c).resize_for_fill(table.num_rows(), table.strings(c).byte_size());
          cursor.text.push_back(0);
          break;
      }
    }
    decoded.set_rows_from_columns();
    mpilake::decode_column_block(bytes.data(), bytes.data() + bytes.size(), decoded, cursor);
    benchmark::DoNotOptimize(decoded.num_rows());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK_CAPTURE(BM_DecodeBlock, accelerometer, Source::accelerometer)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
