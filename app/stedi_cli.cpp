// STEDI's place in the command line: `run --rules`, `generate` and `audit`.
#include <filesystem>
#include <iostream>

#include "cli.hpp"
#include "mpilake/stedi/audit.hpp"
#include "mpilake/stedi/generate.hpp"
#include "mpilake/stedi/pipeline.hpp"

namespace mpilake::cli {

namespace {

// The value of --rules, or a usage error.
stedi::Rules rules_option(const std::string& text) {
  const auto rules = stedi::parse_rules(text);
  if (!rules) throw UsageError("unknown --rules '" + text + "' (expected privacy, serial or rubric)");
  return *rules;
}

int run(const Comm& comm, const RunRequest& request) {
  const auto& values = *request.values;
  stedi::RunOptions options;
  options.job = request.job;
  options.rules = rules_option(values["rules"].as<std::string>());
  const auto summary = stedi::run_stedi(comm, options);
  if (comm.is_root() && request.print_results) std::cout << stedi::result_lines(summary) << std::flush;
  if (comm.is_root() && options.job.progress)
    std::cout << "\n"
              << stedi::format_summary(summary) << "\nzones and summary.json in " << options.job.out.string() << "\n"
              << std::flush;
  return 0;
}

int generate(const Comm& comm, const po::variables_map& values) {
  stedi::GenerateOptions options;
  options.out = values["out"].as<std::string>();
  options.customers = values["customers"].as<std::int64_t>();
  options.seed = values["seed"].as<std::uint64_t>();
  options.consent_fraction = values["consent-fraction"].as<double>();
  options.shared_serial_fraction = values["shared-serial-fraction"].as<double>();
  options.bad_line_rate = values["bad-line-rate"].as<double>();
  options.target_bytes = parse_byte_count(values["target-bytes"].as<std::string>(), "--target-bytes");
  const bool readings_given = !values["readings-per-customer"].defaulted();
  options.readings_per_customer = values["readings-per-customer"].as<std::int64_t>();
  if (readings_given && options.target_bytes > 0)
    throw UsageError("--readings-per-customer and --target-bytes both set the size: give one of them");
  if (options.customers < 0) throw UsageError("--customers must be 0 or more");
  if (options.readings_per_customer < 0) throw UsageError("--readings-per-customer must be 0 or more");
  if (options.target_bytes < 0) throw UsageError("--target-bytes must be 0 or more");
  const auto share = [](double value, const char* flag) {
    if (!(value >= 0 && value <= 1)) throw UsageError(std::string(flag) + " must be between 0 and 1");
  };
  share(options.consent_fraction, "--consent-fraction");
  share(options.shared_serial_fraction, "--shared-serial-fraction");
  share(options.bad_line_rate, "--bad-line-rate");

  // An existing landing set is replaced only when asked: its three source folders go first, so no
  // old file mixes into the new set. Anything else in the folder is left alone.
  const bool overwrite = values.count("overwrite") != 0U;
  comm.on_root([&] {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto source : stedi::kAllSources) {
      const fs::path folder = options.out / stedi::source_name(source);
      if (!fs::exists(folder, ec)) continue;
      if (!overwrite && !fs::is_empty(folder, ec))
        throw std::runtime_error("'" + options.out.string() + "' already holds landing data (" +
                                 folder.filename().string() + "/); pass --overwrite to replace it");
      if (overwrite) fs::remove_all(folder, ec);
      if (ec) throw std::runtime_error("cannot remove '" + folder.string() + "': " + ec.message());
    }
  });
  stedi::GenerateReport report;
  try {
    report = stedi::generate_landing(options, comm.get());
  } catch (const std::exception& e) {
    // The generator reports setup and write failures on every rank alike.
    throw ConsistentError(e.what());
  }
  if (comm.is_root())
    std::cout << "generated " << report.files << " files, " << report.bytes << " bytes: " << report.customer_rows
              << " customer, " << report.accelerometer_rows << " accelerometer, " << report.step_trainer_rows
              << " step-trainer rows in " << options.out.string() << "\n"
              << std::flush;
  return 0;
}

int audit(const Comm& comm, const po::variables_map& values) {
  stedi::AuditOptions options;
  options.landing = values["landing"].as<std::string>();
  options.out = values["out"].as<std::string>();
  if (values.count("rules") != 0U) {
    options.rules = rules_option(values["rules"].as<std::string>());
    options.rules_given = true;
  }
  const auto max_report = values["max-report"].as<std::int64_t>();
  if (max_report < 0) throw UsageError("--max-report must be 0 or more");
  options.max_report = max_report;
  const auto report = stedi::run_audit(comm, options);
  if (comm.is_root()) std::cout << stedi::format_audit(report) << std::flush;
  return report.clean() ? 0 : 1;
}

}  // namespace

PipelineCli stedi_cli() {
  PipelineCli cli;
  cli.name = "stedi";
  cli.summary = "step trainer + phone accelerometer, only customers who consented to research";
  // clang-format off
  cli.run.usage =
      "usage: mpirun -np P mpilake run [--pipeline stedi] --landing DIR --out DIR [--rules privacy|serial|rubric]\n"
      "                                [--overwrite] [--quiet] [--results] [--compress] [--chunk-rows N]\n"
      "                                [--max-round-mb MB] [--memory-limit auto|off|SIZE] [--scratch DIR]\n"
      "                                [--progress-interval S]\n";
  cli.run.description =
      "Reads the landing JSON (each rank its own byte range of every source), quarantines bad lines,\n"
      "applies the rule set and writes OUT/<zone>.h5 for customer_trusted, accelerometer_trusted,\n"
      "customer_curated, step_trainer_trusted and machine_learning_curated, plus quarantine.jsonl,\n"
      "quarantine.h5 and summary.json. Rule sets:\n"
      "  privacy  consent-time filter, ML join on (serialNumber, timestamp)   [default]\n"
      "  serial   no consent-time filter, ML join on (serialNumber, timestamp)\n"
      "  rubric   no consent-time filter, ML join on timestamp alone (the original course's rule)\n";
  cli.run.add_options = [](po::options_description& options) {
    options.add_options()
        ("rules", po::value<std::string>()->default_value("privacy"), "rule set: privacy | serial | rubric");
  };
  cli.run.action = run;

  PipelineCommand<ToolAction> generate_command;
  generate_command.usage =
      "usage: mpirun -np P mpilake generate [--pipeline stedi] --out DIR [--customers N]\n"
      "                                     [--readings-per-customer K | --target-bytes B] [--seed S]\n"
      "                                     [--consent-fraction F] [--shared-serial-fraction F] [--bad-line-rate R]\n"
      "                                     [--overwrite]\n";
  generate_command.description =
      "Writes synthetic STEDI landing data shaped like the starter data (OUT/customer/, OUT/accelerometer/,\n"
      "OUT/step_trainer/), each rank its own files; the same seed gives the same bytes at any rank count.\n";
  generate_command.add_options = [](po::options_description& options) {
    const stedi::GenerateOptions defaults;
    options.add_options()
        ("out", po::value<std::string>()->required(), "landing root to write (customer/, accelerometer/, step_trainer/)")
        ("customers", po::value<std::int64_t>()->default_value(defaults.customers), "number of customers")
        ("readings-per-customer", po::value<std::int64_t>()->default_value(defaults.readings_per_customer),
         "mean step-trainer (and matching accelerometer) readings per device")
        ("target-bytes", po::value<std::string>()->default_value("0"),
         "aim for about this many landing bytes instead (not with --readings-per-customer)")
        ("seed", po::value<std::uint64_t>()->default_value(defaults.seed), "random seed (same seed, same files, any rank count)")
        ("consent-fraction", po::value<double>()->default_value(defaults.consent_fraction),
         "share of customers who consented to research")
        ("shared-serial-fraction", po::value<double>()->default_value(defaults.shared_serial_fraction),
         "share of customers reusing another customer's serial number")
        ("bad-line-rate", po::value<double>()->default_value(defaults.bad_line_rate),
         "share of lines written broken (to exercise the quarantine)")
        ("overwrite", "replace landing data already in --out (its customer/, accelerometer/, step_trainer/)");
  };
  generate_command.action = generate;
  cli.generate = generate_command;

  PipelineCommand<ToolAction> audit_command;
  audit_command.usage =
      "usage: mpirun -np P mpilake audit [--pipeline stedi] --landing DIR --out DIR [--rules privacy|serial|rubric]\n"
      "                                  [--max-report N]\n";
  audit_command.description =
      "Checks a finished run independently of the pipeline: re-reads the landing customers and walks every\n"
      "row of every zone. Every trusted/curated row must belong to a customer who consented (privacy: taken\n"
      "at or after consent); every ML row must pair readings of the same time (privacy, serial: and a device\n"
      "of that user); row counts must agree (`rows` attribute, dataset lengths, summary.json). Prints one\n"
      "line per violation (up to --max-report) and `audit: N rows checked in Z zones, V violations`.\n"
      "Exit code: 0 clean, 1 violations found, 2 the audit could not run.\n";
  audit_command.add_options = [](po::options_description& options) {
    options.add_options()
        ("landing", po::value<std::string>()->required(), "landing root the run read (its customer/ is re-read)")
        ("out", po::value<std::string>()->required(), "the run's output folder (zones and summary.json)")
        ("rules", po::value<std::string>(), "rule set to audit against: privacy | serial | rubric (default: the zones' `rules` attribute)")
        ("max-report", po::value<std::int64_t>()->default_value(20), "violations to list (all are counted)");
  };
  audit_command.action = audit;
  cli.audit = audit_command;
  // clang-format on
  return cli;
}

}  // namespace mpilake::cli
