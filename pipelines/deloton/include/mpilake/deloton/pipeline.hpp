#pragma once
// The Deloton job: exercise-bike Kafka log dumps -> riders, rides, readings, heart-rate alerts and
// daily figures, each written collectively to one HDF5 file (../shared/DELOTON.md).
//
// Engine steps, in order:
//  1. split    each stream's files (one sequence per stream) cut into one byte range per rank;
//  2. parse    simdjson for the {"log": ...} record, a hand-checked grammar for the log line, straight
//              into one columnar table of events (ride starts, ride lines, telemetry) per rank;
//  3. rides    duplicate ride starts found with a per-bike scan over the ranks (previous_by_key), then
//              every ride made whole on the rank of its start (hand_off_open_groups) and rebuilt there
//              exactly as one process reading the whole stream would: pairing, duplicates, orphans,
//              aggregates, the alert rule;
//  4. ids      rides sample-sorted by (start_time, bike, stream, position): dense ride ids from a
//              prefix sum; ids back to the rides' origin ranks; readings to the ranks holding their rides;
//  5. build    riders (meeting on hash(user_id), latest ride's details), daily figures (meeting on
//              hash(date), sums in ride_id order), both sorted;
//  6. write    the five zones, the quarantine and summary.json.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mpilake/deloton/schema.hpp"
#include "mpilake/job/job.hpp"
#include "mpilake/job/run_stats.hpp"
#include "mpilake/mpi/comm.hpp"

namespace mpilake::deloton {

struct RunOptions {
  job::JobOptions job;
};

struct DataQuality {
  std::int64_t orphan_lines = 0;          // INFO lines of a bike before its first ride start in the stream
  std::int64_t unpaired_lines = 0;        // ride lines without telemetry + telemetry without ride line
  std::int64_t duplicate_deliveries = 0;  // lines skipped as re-sent
  std::int64_t rides_without_readings = 0;
  std::int64_t rides_with_unknown_rider = 0;
  std::int64_t riders_with_changed_details = 0;  // user JSON not the same on all of a rider's rides
  std::int64_t bikes_in_several_streams = 0;
  std::int64_t user_strings_with_nul = 0;   // string fields of the rides' user JSONs with a NUL (now U+FFFD)
  std::int64_t rides_with_nul_in_bike = 0;  // rides whose bike name held a NUL (now U+FFFD)
};

struct RunSummary {
  job::RunStats run;
  std::vector<std::pair<std::string, StreamStats>> streams;  // stream name ("" for the root) -> accounting
  DataQuality quality;
  std::int64_t quarantined = 0;
};

// Collective: the whole job. Returns the summary on every rank (complete on rank 0).
RunSummary run_deloton(const Comm& comm, const RunOptions& options);

std::string format_summary(const RunSummary& summary);
std::string summary_json(const RunSummary& summary);
std::string result_lines(const RunSummary& summary);

}  // namespace mpilake::deloton
