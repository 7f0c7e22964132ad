#pragma once
// The STEDI job: landing JSON -> customer/accelerometer/step-trainer trusted zones, the curated
// customers and the machine-learning join, each written collectively to one HDF5 file.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mpilake/h5/zone_writer.hpp"
#include "mpilake/io/output_lock.hpp"
#include "mpilake/json/source_parser.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/shuffle/exchange.hpp"
#include "mpilake/stedi/schema.hpp"

namespace mpilake::stedi {

struct RunOptions {
  std::filesystem::path landing;
  std::filesystem::path out;
  Rules rules = Rules::Privacy;
  bool overwrite = false;
  bool progress = true;  // rank 0 prints a line per stage on stderr
  ExchangeOptions exchange;
  ParseOptions parse;
  ZoneLayout layout;
  // Memory the ranks of one node may use together: -1 detects what the node has available, 0 skips
  // the check.
  std::int64_t memory_limit = -1;
};

struct StageTime {
  std::string stage;
  double seconds = 0;  // the slowest rank's time
};

struct RunSummary {
  std::string rules;
  int ranks = 1;
  std::string created_utc;
  std::vector<std::pair<std::string, SourceStats>> sources;
  std::vector<std::pair<std::string, std::int64_t>> zones;  // zone -> rows
  std::vector<StageTime> stages;
  double total_seconds = 0;
  std::int64_t landing_bytes = 0;
  ExchangeStats exchange;               // summed over ranks
  std::int64_t peak_rss_bytes_max = 0;  // largest peak resident set of any rank
  // Data quality.
  std::int64_t shared_serials = 0;  // serial numbers used by several distinct customer emails
  std::vector<std::pair<std::string, std::int64_t>> shared_serial_examples;  // serial -> distinct emails
  std::int64_t duplicate_customer_rows = 0;  // landing customer rows equal to an earlier row
  std::int64_t unknown_user_readings = 0;    // accelerometer rows whose user is no customer's email
  std::int64_t quarantined = 0;
};

// Creates the output folder when missing, locks it for this run, and checks it before anything is
// written: throws ConsistentError (on every rank) when it is not a folder, another run holds it, or
// it already holds zones and `overwrite` is off.
OutputLock prepare_output(const Comm& comm, const std::filesystem::path& out, bool overwrite);

// Collective: the whole job. Returns the summary on every rank (complete on rank 0).
RunSummary run_stedi(const Comm& comm, const RunOptions& options);

// Human-readable summary (what rank 0 prints) and its JSON twin (written as summary.json).
std::string format_summary(const RunSummary& summary);
std::string summary_json(const RunSummary& summary);
// `RESULT key=value` lines (one per figure) for benchmark scripts.
std::string result_lines(const RunSummary& summary);

}  // namespace mpilake::stedi
