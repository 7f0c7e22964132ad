#pragma once
// Synthetic STEDI landing data: customer, accelerometer and step-trainer NDJSON files that look
// like the starter data (including its format quirks) at any size, for tests and benchmarks.
//
// Output is a pure function of the options: customers are cut into fixed blocks of
// `customers_per_file`, block k is written by rank k % size into one file per source, and every
// random draw comes from a hand-written PRNG seeded by (seed, customer) or (seed, block). So the
// same seed gives byte-identical files whatever the number of ranks.
#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mpilake::stedi {

struct GenerateOptions {
  std::filesystem::path out;  // landing root; writes out/customer/, out/accelerometer/, out/step_trainer/
  std::int64_t customers = 1000;
  // Mean step-trainer readings per device (each device draws 0.5x..1.5x of it); used when
  // target_bytes == 0.
  std::int64_t readings_per_customer = 100;
  std::int64_t target_bytes = 0;  // if > 0: choose readings_per_customer so total landing bytes ~= target
  std::uint64_t seed = 1;
  double consent_fraction = 0.7;         // share of customers with shareWithResearchAsOfDate set
  double shared_serial_fraction = 0.02;  // share of customers that reuse another customer's serial
  double bad_line_rate = 0.0;            // share of lines written broken (truncated JSON / missing field / wrong type)
  std::int64_t customers_per_file = 10000;  // file blocking; fixed so output does not depend on rank count
};

// Global totals (same on every rank). Row counts are non-blank lines written, broken ones included,
// so a reader should see rows == accepted + quarantined per source.
struct GenerateReport {
  std::int64_t files = 0, bytes = 0, customer_rows = 0, accelerometer_rows = 0, step_trainer_rows = 0;
  std::int64_t broken_rows = 0;  // lines deliberately broken (all sources), part of the rows above
};

// Collective over `comm`. Rank 0 creates the three source folders; `out` must not already hold
// files other than the ones this run writes (they would mix into the data set), else every rank
// throws. Throws std::runtime_error naming the path on any failed write, on every rank.
GenerateReport generate_landing(const GenerateOptions& options, MPI_Comm comm);

// ---- Pure building blocks (no MPI), exposed for tests and tools ----

enum class Source { customer, accelerometer, step_trainer };
inline constexpr Source kAllSources[] = {Source::customer, Source::accelerometer, Source::step_trainer};
std::string_view source_name(Source source);  // "customer", "accelerometer", "step_trainer"

// Number of blocks (= files per source): ceil(customers / customers_per_file).
std::int64_t block_count(const GenerateOptions& options);

// readings_per_customer to use: options.readings_per_customer when target_bytes == 0, else an
// estimate (from a small deterministic probe) that makes the total landing size ~= target_bytes.
std::int64_t resolve_readings_per_customer(const GenerateOptions& options);

// out/<source>/<source>-<block, zero-padded to at least 6 digits>.json
std::filesystem::path block_path(const std::filesystem::path& out, Source source, std::int64_t block_index,
                                 std::int64_t blocks);

// The exact bytes of block `block_index`'s three files. Uses options.readings_per_customer as given
// (target_bytes is ignored here: resolve it first). Holds the whole block in memory, so meant for
// tests and small blocks; generate_landing streams instead.
struct GeneratedBlock {
  std::string customer, accelerometer, step_trainer;
  std::int64_t customer_rows = 0, accelerometer_rows = 0, step_trainer_rows = 0, broken_rows = 0;
  const std::string& text(Source source) const;
};
GeneratedBlock generate_block(const GenerateOptions& options, std::int64_t block_index);

}  // namespace mpilake::stedi
