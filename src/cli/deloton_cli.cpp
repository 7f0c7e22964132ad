// Deloton's place in the command line: `run --pipeline deloton`.
#include <iostream>

#include "cli.hpp"
#include "mpilake/deloton/audit.hpp"
#include "mpilake/deloton/pipeline.hpp"

namespace mpilake::cli {

namespace {

int run(const Comm& comm, const RunRequest& request) {
  deloton::RunOptions options;
  options.job = request.job;
  const auto summary = deloton::run_deloton(comm, options);
  if (comm.is_root() && request.print_results) std::cout << deloton::result_lines(summary) << std::flush;
  if (comm.is_root() && options.job.progress)
    std::cout << "\n"
              << deloton::format_summary(summary) << "\nzones and summary.json in " << options.job.out.string() << "\n"
              << std::flush;
  return 0;
}

int audit(const Comm& comm, const po::variables_map& values) {
  deloton::AuditOptions options;
  options.landing = values["landing"].as<std::string>();
  options.out = values["out"].as<std::string>();
  options.max_report = values["max-report"].as<std::int64_t>();
  if (options.max_report < 0) throw UsageError("--max-report must be 0 or more");
  const auto report = deloton::run_audit(comm, options);
  if (comm.is_root()) std::cout << job::format_audit(report) << std::flush;
  return report.clean() ? 0 : 1;
}

}  // namespace

PipelineCli deloton_cli() {
  PipelineCli cli;
  cli.name = "deloton";
  cli.summary = "exercise-bike Kafka log dumps -> riders, rides, readings, heart-rate alerts, daily figures";
  cli.run.usage =
      "usage: mpirun -np P mpilake run --pipeline deloton --landing DIR --out DIR [--overwrite] [--quiet]\n"
      "                                [--results] [--compress] [--chunk-rows N] [--max-round-mb MB]\n"
      "                                [--memory-limit auto|off|SIZE] [--progress-interval S]\n";
  cli.run.description =
      "Reads LANDING/deloton/: each sub-folder is one stream (a Kafka partition), the files directly in it one\n"
      "more; a stream's files are read in name order as one sequence, each rank its own byte range. Rebuilds\n"
      "the rides of every bike across files and ranks, applies the heart-rate alert rule, and writes\n"
      "OUT/riders.h5, rides.h5, readings.h5 (with the ride_offset index), heart_rate_alerts.h5 and daily.h5,\n"
      "plus quarantine.jsonl, quarantine.h5 and summary.json (../shared/DELOTON.md has the contract).\n"
      "Only riders.h5 and heart_rate_alerts.h5 hold personal data.\n";
  cli.run.add_options = [](po::options_description&) {};
  cli.run.action = run;

  PipelineCommand<ToolAction> audit_command;
  audit_command.usage =
      "usage: mpirun -np P mpilake audit --pipeline deloton --landing DIR --out DIR [--max-report N]\n";
  audit_command.description =
      "Checks a finished Deloton run independently of the pipeline: re-reads the landing's ride starts and\n"
      "walks every zone. rides, readings and daily must hold no personal data; every alert must be justified\n"
      "by three consecutive abnormal readings under the limits of the ride's own start, and every ride with\n"
      "such a run must have its alert; readings and rides must agree (ride ids, ride_offset, counts, sums);\n"
      "riders and daily must agree with rides; row counts with the `rows` attribute and summary.json.\n"
      "Prints one line per violation (up to --max-report) and `audit: N rows checked in Z zones, V violations`.\n"
      "Exit code: 0 clean, 1 violations found, 2 the audit could not run.\n";
  audit_command.add_options = [](po::options_description& options) {
    // clang-format off
    options.add_options()
        ("landing", po::value<std::string>()->required(), "landing root the run read (its deloton/ is re-read)")
        ("out", po::value<std::string>()->required(), "the run's output folder (zones and summary.json)")
        ("max-report", po::value<std::int64_t>()->default_value(20), "violations to list (all are counted)");
    // clang-format on
  };
  audit_command.action = audit;
  cli.audit = audit_command;
  return cli;
}

}  // namespace mpilake::cli
