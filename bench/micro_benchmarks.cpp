// Google Benchmark micro-benchmarks of mpilake's per-row hot operations:
//   - the parser: mpilake::RecordParser on realistic landing lines of each source (the exact bytes of
//     `mpilake generate`, quirks included), throughput in landing bytes/s: one iterate() per line
//     (BM_RecordParser) and runs of lines through iterate_many (BM_RecordParserRun, what parse_source
//     does), also on lines of which 1% are broken (`..._bad`);
//   - id assignment: the email index of the customers and one lookup per accelerometer row
//     (BM_EmailIds), as the accelerometer filter does;
//   - join + sort: join_readings_with_steps on id tables of the generated shape (BM_MlJoin);
//   - write: write_zone of the accelerometer rows to an HDF5 file (BM_WriteZone, one rank);
//   - partition + serialise: mpilake::partition_rows, the rows grouped by destination and encoded as
//     one columnar block per destination (what exchange_rows does before MPI_Alltoallv), throughput in
//     encoded bytes/s; and decode_column_block, the receiving side.
// Run: build-release/bench/micro_benchmarks [--benchmark_filter=Parse] [--benchmark_min_time=1]
#include <benchmark/benchmark.h>
#include <mpi.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "mpilake/h5/zone_writer.hpp"
#include "mpilake/json/record_parser.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/shuffle/column_block.hpp"
#include "mpilake/shuffle/partitioner.hpp"
#include "mpilake/stedi/generate.hpp"
#include "mpilake/stedi/ml_join.hpp"
#include "mpilake/stedi/schema.hpp"
#include "mpilake/table/key_index.hpp"
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

// The same lines with every 100th one broken (cut in half: invalid JSON), as a 1% bad-line rate.
const Lines& bad_lines_of(Source source) {
  static Lines cache[3];
  Lines& lines = cache[static_cast<std::size_t>(source)];
  if (!lines.lines.empty()) return lines;
  const Lines& clean = lines_of(source);
  std::string text;
  for (std::size_t i = 0; i < clean.lines.size(); ++i) {
    const auto [start, length] = clean.lines[i];
    text.append(clean.text, start, i % 100 == 50 ? length / 2 : length);
    text.push_back('\n');
  }
  lines.bytes = text.size();
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
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

// Bytes and lines per second, and the share of lines accepted, of a parse benchmark over `lines`.
void report_parse(benchmark::State& state, const Lines& lines, std::int64_t accepted) {
  const auto lines_parsed = static_cast<double>(state.iterations() * lines.lines.size());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(lines.bytes));
  state.counters["lines/s"] = benchmark::Counter(lines_parsed, benchmark::Counter::kIsRate);
  state.counters["accepted_share"] = static_cast<double>(accepted) / lines_parsed;
}

// Parses every line of one source into a fresh table per iteration.
void BM_RecordParser(benchmark::State& state, Source source, bool bad) {
  const Lines& lines = bad ? bad_lines_of(source) : lines_of(source);
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
  report_parse(state, lines, accepted);
}
BENCHMARK_CAPTURE(BM_RecordParser, customer, Source::customer, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParser, accelerometer, Source::accelerometer, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParser, step_trainer, Source::step_trainer, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParser, accelerometer_bad, Source::accelerometer, true)->Unit(benchmark::kMillisecond);

// Every line through simdjson, as parse_source read them before the canonical path: runs through
// RecordParser::parse_run (one iterate_many per window), the lines it leaves through parse().
void BM_RecordParserRun(benchmark::State& state, Source source, bool bad) {
  const Lines& lines = bad ? bad_lines_of(source) : lines_of(source);
  std::vector<mpilake::Line> batch;
  for (const auto& [start, length] : lines.lines) batch.push_back({static_cast<std::int64_t>(start), start, length});
  mpilake::RecordParser parser(schema_of(source));
  const mpilake::Schema table_schema = parser.schema().table_schema();
  std::string reason;
  std::int64_t accepted = 0;
  for (auto _ : state) {
    mpilake::Table table(table_schema);
    std::span<const mpilake::Line> rest = batch;
    while (!rest.empty()) {
      const auto run = parser.parse_run(lines.text.data(), rest, table);
      for (std::size_t i = run.taken; i < run.per_line_end; ++i)
        parser.parse(lines.text.data() + rest[i].start, rest[i].length, lines.text.size() - rest[i].start, table,
                     reason);
      rest = rest.subspan(run.per_line_end);
    }
    accepted += static_cast<std::int64_t>(table.num_rows());
    benchmark::DoNotOptimize(table.num_rows());
  }
  report_parse(state, lines, accepted);
}
BENCHMARK_CAPTURE(BM_RecordParserRun, customer, Source::customer, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParserRun, accelerometer, Source::accelerometer, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParserRun, step_trainer, Source::step_trainer, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParserRun, accelerometer_bad, Source::accelerometer, true)->Unit(benchmark::kMillisecond);

// The lines as parse_source reads them: RecordParser::parse_lines, canonical lines through the
// canonical scanner and the rest through simdjson (parse_run, then parse()), into one table reused.
void BM_RecordParserLines(benchmark::State& state, Source source, bool bad) {
  const Lines& lines = bad ? bad_lines_of(source) : lines_of(source);
  std::vector<mpilake::Line> batch;
  for (const auto& [start, length] : lines.lines) batch.push_back({static_cast<std::int64_t>(start), start, length});
  mpilake::RecordParser parser(schema_of(source));
  // One table reused (cleared each time), as parse_source_into reuses its batch table.
  mpilake::Table table(parser.schema().table_schema());
  std::int64_t accepted = 0;
  for (auto _ : state) {
    table.truncate_rows(0);
    const auto result =
        parser.parse_lines(lines.text.data(), lines.text.size(), batch, table, [](std::size_t, const std::string&) {});
    accepted += result.accepted;
    benchmark::DoNotOptimize(table.num_rows());
  }
  report_parse(state, lines, accepted);
  state.counters["canonical_share"] =
      static_cast<double>(parser.canonical_lines()) / static_cast<double>(state.iterations() * lines.lines.size());
}
BENCHMARK_CAPTURE(BM_RecordParserLines, customer, Source::customer, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParserLines, accelerometer, Source::accelerometer, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParserLines, step_trainer, Source::step_trainer, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RecordParserLines, accelerometer_bad, Source::accelerometer, true)->Unit(benchmark::kMillisecond);

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

// Id assignment: the customers' emails into a StringKeyIndex (dense ids), then one find() per
// accelerometer row, as the accelerometer filter of the pipeline does; in rows looked up per second.
void BM_EmailIds(benchmark::State& state) {
  const mpilake::Table& customers = table_of(Source::customer);
  const mpilake::Table& readings = table_of(Source::accelerometer);
  const auto& emails = customers.strings(mpilake::stedi::customer::kEmail);
  const auto& users = readings.strings(mpilake::stedi::accelerometer::kUser);
  std::int64_t found = 0;
  for (auto _ : state) {
    mpilake::StringKeyIndex index(emails.size());
    for (std::size_t r = 0; r < emails.size(); ++r) index.insert(emails[r]);
    for (std::size_t r = 0; r < users.size(); ++r) found += index.find(users[r]) != mpilake::StringKeyIndex::kAbsent;
    benchmark::DoNotOptimize(found);
  }
  state.counters["rows/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * (emails.size() + users.size())), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EmailIds)->Unit(benchmark::kMillisecond);

// The same lookups through StringRunLookup (the previous row's id when its key repeats), as the
// pipeline's filters do.
void BM_EmailIdsRuns(benchmark::State& state) {
  const mpilake::Table& customers = table_of(Source::customer);
  const mpilake::Table& readings = table_of(Source::accelerometer);
  const auto& emails = customers.strings(mpilake::stedi::customer::kEmail);
  const auto& users = readings.strings(mpilake::stedi::accelerometer::kUser);
  std::int64_t found = 0;
  for (auto _ : state) {
    mpilake::StringKeyIndex index(emails.size());
    for (std::size_t r = 0; r < emails.size(); ++r) index.insert(emails[r]);
    mpilake::StringRunLookup lookup(index);
    for (std::size_t r = 0; r < users.size(); ++r) found += lookup.find(users[r]) != mpilake::StringKeyIndex::kAbsent;
    benchmark::DoNotOptimize(found);
  }
  state.counters["rows/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * (emails.size() + users.size())), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EmailIdsRuns)->Unit(benchmark::kMillisecond);

// The machine-learning join (sort both sides by (serial, time), merge, order ties) on id tables of the
// generated shape: `serials` devices, 125 readings and 125 steps each at shuffled times, half of the
// step times equal to a reading's.
void BM_MlJoin(benchmark::State& state) {
  const auto serials = static_cast<std::int64_t>(state.range(0));
  constexpr std::int64_t kPerSerial = 125;
  std::mt19937_64 random(11);
  mpilake::Table readings(mpilake::stedi::ml_readings_schema());
  mpilake::Table steps(mpilake::stedi::ml_step_keys_schema());
  for (std::int64_t s = 0; s < serials; ++s) {
    for (std::int64_t i = 0; i < kPerSerial; ++i) {
      const std::int64_t time = 1655564376361 + static_cast<std::int64_t>(random() % 1000000);
      readings.ints(0).push_back(s);
      readings.ints(1).push_back(s);
      readings.ints(2).push_back(time);
      for (std::size_t c = 3; c < 6; ++c) readings.floats(c).push_back(static_cast<double>(random() % 3) - 1.0);
      readings.commit_row();
      steps.ints(0).push_back(s);
      steps.ints(1).push_back(i % 2 == 0 ? time : time + 1);
      steps.ints(2).push_back(static_cast<std::int64_t>(random() % 300));
      steps.commit_row();
    }
  }
  // Rows arrive grouped by rank, not by serial: shuffle them.
  std::vector<std::size_t> order(readings.num_rows());
  for (std::size_t r = 0; r < order.size(); ++r) order[r] = r;
  std::shuffle(order.begin(), order.end(), random);
  readings = readings.take(order);
  std::shuffle(order.begin(), order.end(), random);
  steps = steps.take(order);
  std::size_t joined = 0;
  for (auto _ : state) {
    const mpilake::Table result = mpilake::stedi::join_readings_with_steps(readings, steps, true);
    joined = result.num_rows();
    benchmark::DoNotOptimize(joined);
  }
  state.counters["rows/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * (readings.num_rows() + steps.num_rows())), benchmark::Counter::kIsRate);
  state.counters["joined"] = static_cast<double>(joined);
}
BENCHMARK(BM_MlJoin)->Arg(20000)->Unit(benchmark::kMillisecond);

// write_zone of the parsed accelerometer rows (one rank, MPI_COMM_WORLD of the benchmark process) to a
// fresh HDF5 file under $TMPDIR, in written bytes/s (the file's size).
void BM_WriteZone(benchmark::State& state) {
  const mpilake::Table& rows = table_of(Source::accelerometer);
  const mpilake::Comm comm(MPI_COMM_WORLD);
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("mpilake-bench-write-" + std::to_string(::getpid()) + ".h5");
  std::int64_t bytes = 0;
  for (auto _ : state) {
    std::filesystem::remove(path);
    mpilake::write_zone(comm, path, rows, {{"rules", std::string("privacy")}});
    bytes = static_cast<std::int64_t>(std::filesystem::file_size(path));
  }
  std::filesystem::remove(path);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * bytes);
}
BENCHMARK(BM_WriteZone)->Unit(benchmark::kMillisecond);

}  // namespace

// BENCHMARK_MAIN inside MPI_Init / MPI_Finalize (write_zone is collective; one rank here).
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    MPI_Finalize();
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  MPI_Finalize();
  return 0;
}
