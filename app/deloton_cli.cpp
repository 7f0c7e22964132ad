// Deloton's place in the command line: `run --pipeline deloton`.
#include <algorithm>
#include <iostream>

#include "cli.hpp"
#include "mpilake/deloton/audit.hpp"
#include "mpilake/deloton/generate.hpp"
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

int generate(const Comm& comm, const po::variables_map& values) {
  deloton::GenerateOptions options;
  options.out = values["out"].as<std::string>();
  options.bikes = values["bikes"].as<std::int64_t>();
  options.days = values["days"].as<std::int64_t>();
  options.streams = values["streams"].as<std::int64_t>();
  options.seed = values["seed"].as<std::uint64_t>();
  options.bad_line_rate = values["bad-line-rate"].as<double>();
  options.start_date = values["start-date"].as<std::string>();
  options.riders = values["riders"].as<std::int64_t>();
  options.hours_per_file = values["hours-per-file"].as<std::int64_t>();
  options.duplicate_rate = values["duplicate-rate"].as<double>();
  options.target_bytes = parse_byte_count(values["target-bytes"].as<std::string>(), "--target-bytes");
  options.root_stream = values.count("root-stream") != 0U;
  options.overwrite = values.count("overwrite") != 0U;
  if (!values["days"].defaulted() && options.target_bytes > 0)
    throw UsageError("--days and --target-bytes both set the size: give one of them");
  const auto report = deloton::generate_landing(options, comm);
  const auto& totals = report.totals;
  if (comm.is_root())
    std::cout << "generated " << report.files << " files, " << totals.bytes << " bytes (" << report.days
              << " days): " << totals.rides << " rides, " << totals.readings << " readings, " << totals.lines
              << " lines (" << totals.duplicates << " re-sent, " << totals.orphan_lines << " orphans, "
              << totals.bad_lines() << " bad), " << totals.alert_rides << " alerting rides in " << options.out.string()
              << "/deloton\n"
              << "took " << report.seconds
              << " s: " << static_cast<double>(totals.bytes) / 1e6 / std::max(report.seconds, 1e-9) / comm.size()
              << " MB/s per rank\n"
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

  PipelineCommand<ToolAction> generate_command;
  generate_command.usage =
      "usage: mpirun -np P mpilake generate --pipeline deloton --out DIR [--bikes N] [--days D | --target-bytes B]\n"
      "                                     [--streams P] [--seed S] [--bad-line-rate R] [--start-date YYYY-MM-DD]\n"
      "                                     [--riders N] [--hours-per-file H] [--duplicate-rate R] [--root-stream]\n"
      "                                     [--overwrite]\n";
  generate_command.description =
      "Writes synthetic Deloton landing data: Kafka Connect dumps of the bikes' log topic in\n"
      "OUT/deloton/partition=<p>/, many bikes interleaved per stream, full-length rides shaped like the real\n"
      "samples, riders with abnormal heart-rate episodes, dumps that start mid-ride, re-sent lines, rides\n"
      "across midnight and across files. Each rank writes its own files; the same options give the same\n"
      "bytes at any rank count.\n";
  generate_command.add_options = [](po::options_description& options) {
    const deloton::GenerateOptions defaults;
    // clang-format off
    options.add_options()
        ("out", po::value<std::string>()->required(), "landing root to write (the files go to OUT/deloton/partition=<p>/)")
        ("bikes", po::value<std::int64_t>()->default_value(defaults.bikes), "bikes in the fleet")
        ("days", po::value<std::int64_t>()->default_value(defaults.days), "days of rides, from --start-date")
        ("streams", po::value<std::int64_t>()->default_value(defaults.streams), "Kafka partitions (bike b logs to b % streams)")
        ("seed", po::value<std::uint64_t>()->default_value(defaults.seed), "random seed (same seed, same files, any rank count)")
        ("bad-line-rate", po::value<double>()->default_value(defaults.bad_line_rate),
         "share of lines written broken or left out (to exercise the quarantine)")
        ("start-date", po::value<std::string>()->default_value(defaults.start_date), "first day (UTC), YYYY-MM-DD")
        ("riders", po::value<std::int64_t>()->default_value(defaults.riders), "rider pool size (0: three per bike)")
        ("hours-per-file", po::value<std::int64_t>()->default_value(defaults.hours_per_file), "hours of a stream per file")
        ("duplicate-rate", po::value<double>()->default_value(defaults.duplicate_rate, "0.0005"),
         "chance per line that Kafka re-sends the few lines up to it")
        ("target-bytes", po::value<std::string>()->default_value("0"), "aim for about this many bytes instead of --days")
        ("root-stream", "write stream 0's files directly in OUT/deloton/ (the stream named \"\")")
        ("overwrite", "replace an existing, non-empty OUT/deloton");
    // clang-format on
  };
  generate_command.action = generate;
  cli.generate = generate_command;

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
