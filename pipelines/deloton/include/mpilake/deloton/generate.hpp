#pragma once
// Synthetic Deloton landing data: the exercise bikes' Kafka topic as Kafka Connect dumps it
// (../shared/DELOTON.md), full-size and as messy as the real feed, for tests and benchmarks.
//
// A fleet of `bikes` rides from 00:00 UTC of `start_date` for `days` days; bike b logs to stream
// (Kafka partition) b % streams, so many bikes interleave in each stream, in time order. Each stream
// is cut into files of `hours_per_file` hours: file (stream, window) holds the lines whose time falls
// in the window. Every value is drawn from seeded generators keyed by what it describes (a bike's
// rides of a day by (seed, bike, day), a ride's shape by (seed, ride), a second's noise by (seed,
// ride, second), a line's damage by (seed, ride, line)), so a file is generated without generating
// any other; file k = window * streams + stream is written by rank k % size, and the same options
// give byte-identical files at any rank count.
//
// Messiness, as in the real dumps: the first file of a stream begins inside rides (their lines are
// orphans), Kafka re-sends a few lines now and then (at-least-once), rides run across midnight and
// across files, and with bad_line_rate > 0 lines are broken or lost in the ways DELOTON.md lists.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "mpilake/gen/output_buffer.hpp"
#include "mpilake/mpi/comm.hpp"

namespace mpilake::deloton {

struct GenerateOptions {
  std::filesystem::path out;  // landing root: writes out/deloton/<stream folder>/<files>
  std::int64_t bikes = 20;
  std::int64_t days = 1;
  std::int64_t streams = 4;  // Kafka partitions, folders partition=0 ... partition=<streams - 1>
  std::uint64_t seed = 1;
  double bad_line_rate = 0.0;             // share of lines written broken or left out (DamageKind)
  std::string start_date = "2022-10-01";  // first day, UTC, YYYY-MM-DD
  std::int64_t riders = 0;                // rider pool (user_ids 100, 101, ...); 0: three per bike
  std::int64_t hours_per_file = 6;        // file window
  double duplicate_rate = 0.0005;         // chance per line that Kafka re-sends the 2-6 lines up to it
  bool root_stream = false;               // stream 0's files directly in deloton/ (the stream "")
  bool overwrite = false;                 // replace an existing, non-empty out/deloton
  std::int64_t target_bytes = 0;          // > 0: choose `days` for about this many bytes
};

// How a planted bad line is broken. The first six are quarantined with the reason of that name
// (docs/deloton-decisions.md); a lost line is left out. A broken or lost INFO line also leaves its
// partner unpaired (`ride_line_without_telemetry` / `telemetry_without_ride_line`) unless both
// lines of that reading are bad. Lines near a planted heart-rate episode are never broken.
enum class DamageKind {
  bad_record,
  unknown_shape,
  bad_timestamp,
  bad_number,
  negative_value,
  bad_user_json,
  lost_telemetry,
  lost_ride_line,
};
inline constexpr std::size_t kDamageKinds = 8;
std::string_view damage_kind_name(DamageKind kind);

// What a file (or, summed, the data set) holds. rides, readings, duplicates, orphan_lines and
// alert_rides are what a reader following DELOTON.md finds (the tests check it with their own reader).
struct FileStats {
  std::int64_t lines = 0;  // NDJSON lines written: markers, re-sent and broken ones included
  std::int64_t bytes = 0;
  std::int64_t rides = 0;         // ride starts ([SYSTEM] lines, re-sent copies not counted)
  std::int64_t readings = 0;      // intact ride line + telemetry pairs of rides that start in the data set
  std::int64_t duplicates = 0;    // re-sent lines (what the reader skips as duplicates)
  std::int64_t orphan_lines = 0;  // intact INFO lines of rides that began before the data set
  std::int64_t alert_rides = 0;   // rides with a planted run of >= 3 abnormal heart rates (intact start)
  std::array<std::int64_t, kDamageKinds> damaged{};  // planted bad lines, by DamageKind
  std::int64_t bad_lines() const;                    // all planted bad lines (broken + lost)
  void add(const FileStats& other);
};

struct GenerateReport {
  std::int64_t files = 0;  // files written (a window without lines gets no file)
  std::int64_t days = 0;   // as resolved (target_bytes)
  FileStats totals;
  double seconds = 0;  // the slowest rank's time spent generating and writing
};

// Collective over `comm`; every rank gets the global report. Rank 0 creates out/deloton/ and the
// stream folders; an existing non-empty out/deloton is refused (ConsistentError on every rank)
// unless options.overwrite, which removes it first. Invalid options and failed writes also throw
// ConsistentError on every rank.
GenerateReport generate_landing(const GenerateOptions& options, const Comm& comm);

// ---- Pure building blocks (no MPI), exposed for tests and tools ----

void validate(const GenerateOptions& options);  // throws std::invalid_argument
// options.days, or when target_bytes > 0 an estimate (from a small deterministic probe) that makes
// the data set about target_bytes.
std::int64_t resolve_days(const GenerateOptions& options);
std::int64_t window_count(const GenerateOptions& options);  // windows per stream
std::int64_t file_count(const GenerateOptions& options);    // streams * windows
// "partition=<stream>", or "" for stream 0 when root_stream.
std::string stream_folder(const GenerateOptions& options, std::int64_t stream);
// out/deloton/<stream folder>/deloton+<stream>+<window, 10 digits>.json: names sort in stream order.
std::filesystem::path file_path(const GenerateOptions& options, std::int64_t stream, std::int64_t window);
std::string bike_name(std::int64_t bike);  // "<word> v<digit>", unique per bike (like "mendoza v9")
std::int64_t max_bikes();                  // how many distinct bike names there are

// The power a bike reports for (resistance, rpm), fitted to the real samples: 0 at rpm 0.
double power_watts(std::int64_t resistance, std::int64_t rpm);
// As the feed writes it: 10 significant digits, with the float artefacts of the real feed
// (e.g. "9.737739856000001"), "0.0" at rpm 0.
std::string power_text(std::int64_t resistance, std::int64_t rpm);

// The exact bytes of file (stream, window) and what it holds; options.days is used as given
// (resolve target_bytes first). Holds the file in memory: meant for tests.
struct GeneratedFile {
  std::string text;
  FileStats stats;
};
GeneratedFile generate_file(const GenerateOptions& options, std::int64_t stream, std::int64_t window);
// The same, streamed into `out` (which may flush to a file, or discard for a benchmark); the
// returned stats count the bytes written into `out`.
FileStats generate_file_into(const GenerateOptions& options, std::int64_t stream, std::int64_t window,
                             gen::OutputBuffer& out);

}  // namespace mpilake::deloton
