// Deloton's place in the command line: `run --pipeline deloton`.
#include <iostream>

#include "cli.hpp"
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
  return cli;
}

}  // namespace mpilake::cli
