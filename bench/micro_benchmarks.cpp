// Google Benchmark micro-benchmarks of mpilake's two per-row hot loops:
//   - the parser: mpilake::RecordParser on realistic landing lines of each source (the exact bytes of
//     `mpilake generate`, quirks included), throughput in landing bytes/s;
//   - partition + serialise: mpilake::partition_rows + encode_row into one buffer grouped by
//     destination (what exchange_rows does before MPI_Alltoallv), throughput in encoded bytes/s; and
//     decode_rows, the receiving side.
// Run: build-release/bench/micro_benchmarks [--benchmark_filter=Parse] [--benchmark_min_time=1]
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstring>
#include <string>
#include <vector>

#include "mpilake/json/record_parser.hpp"
#include "mpilake/shuffle/partitioner.hpp"
#include "mpilake/stedi/generate.hpp"
#include "mpilake/stedi/schema.hpp"
#include "mpilake/table/row_codec.hpp"
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

// partition_rows on hash(key) + encode_row into one send buffer grouped by destination, as
// exchange_rows does (sizes first, then each row encoded in place at its destination's cursor).
void BM_PartitionSerialise(benchmark::State& state, Source source) {
  const mpilake::Table& table = table_of(source);
  const int parts = static_cast<int>(state.range(0));
  const auto& keys = table.strings(key_column(source));
  std::string send;
  std::int64_t encoded = 0;
  for (auto _ : state) {
    const std::vector<int> destination =
        mpilake::partition_rows(table.num_rows(), parts, [&](std::size_t r) { return mpilake::hash_bytes(keys[r]); });
    std::vector<std::int64_t> start_of(static_cast<std::size_t>(parts) + 1, 0);
    std::vector<std::size_t> row_size(table.num_rows());
    for (std::size_t r = 0; r < table.num_rows(); ++r) {
      row_size[r] = mpilake::encoded_row_size(table, r);
      start_of[static_cast<std::size_t>(destination[r]) + 1] += static_cast<std::int64_t>(row_size[r]);
    }
    for (int d = 0; d < parts; ++d) start_of[d + 1] += start_of[d];
    send.resize(static_cast<std::size_t>(start_of[parts]));
    std::vector<std::int64_t> cursor(start_of.begin(), start_of.end() - 1);
    for (std::size_t r = 0; r < table.num_rows(); ++r) {
      auto& at = cursor[static_cast<std::size_t>(destination[r])];
      mpilake::encode_row(table, r, send.data() + at);
      at += static_cast<std::int64_t>(row_size[r]);
    }
    benchmark::DoNotOptimize(send.data());
    benchmark::ClobberMemory();
    encoded = start_of[parts];
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

// The receiving side: decode_rows of every encoded row back into a table.
void BM_DecodeRows(benchmark::State& state, Source source) {
  const mpilake::Table& table = table_of(source);
  std::string bytes;
  for (std::size_t r = 0; r < table.num_rows(); ++r) {
    const std::size_t at = bytes.size();
    bytes.resize(at + mpilake::encoded_row_size(table, r));
    mpilake::encode_row(table, r, bytes.data() + at);
  }
  for (auto _ : state) {
    mpilake::Table decoded(table.schema());
    mpilake::decode_rows(decoded, bytes);
    benchmark::DoNotOptimize(decoded.num_rows());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK_CAPTURE(BM_DecodeRows, accelerometer, Source::accelerometer)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
