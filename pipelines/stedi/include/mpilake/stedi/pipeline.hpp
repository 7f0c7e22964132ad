#pragma once
// The STEDI job: landing JSON -> customer/accelerometer/step-trainer trusted zones, the curated
// customers and the machine-learning join, each written collectively to one HDF5 file.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mpilake/job/job.hpp"
#include "mpilake/job/run_stats.hpp"
#include "mpilake/json/source_parser.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/stedi/schema.hpp"

namespace mpilake::stedi {

struct RunOptions {
  job::JobOptions job;  // landing, out, overwrite, progress, exchange, layout, memory limit
  Rules rules = Rules::Privacy;
};

struct RunSummary {
  job::RunStats run;  // ranks, stage times, zones, exchange, peak memory
  std::string rules;
  std::vector<std::pair<std::string, SourceStats>> sources;
  // Data quality.
  std::int64_t shared_serials = 0;  // serial numbers used by several distinct customer emails
  std::vector<std::pair<std::string, std::int64_t>> shared_serial_examples;  // serial -> distinct emails
  std::int64_t duplicate_customer_rows = 0;  // landing customer rows equal to an earlier row
  std::int64_t unknown_user_readings = 0;    // accelerometer rows whose user is no customer's email
  std::int64_t quarantined = 0;
};

// Collective: the whole job. Returns the summary on every rank (complete on rank 0).
RunSummary run_stedi(const Comm& comm, const RunOptions& options);

// Human-readable summary (what rank 0 prints) and its JSON twin (written as summary.json).
std::string format_summary(const RunSummary& summary);
std::string summary_json(const RunSummary& summary);
// `RESULT key=value` lines (one per figure) for benchmark scripts.
std::string result_lines(const RunSummary& summary);

}  // namespace mpilake::stedi
