// mpilake command line: `run` (the STEDI job), `inspect` (look into a zone file), `generate` (demo
// data). Only this file touches MPI_COMM_WORLD; everything below takes the communicator explicitly.
#include <malloc.h>
#include <mpi.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "mpilake/deloton/generate.hpp"
#include "mpilake/h5/zone_reader.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/stedi/audit.hpp"
#include "mpilake/stedi/generate.hpp"
#include "mpilake/stedi/pipeline.hpp"
#include "mpilake/version.hpp"

namespace po = boost::program_options;
using namespace mpilake;

namespace {

// A mistake in how mpilake was called: reported in one line, exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

const char* const kTopHelp =
    "mpilake - MPI batch processor for lakehouse dumps (STEDI pipeline)\n"
    "\n"
    "usage: mpirun -np P mpilake <command> [options]\n"
    "\n"
    "commands:\n"
    "  run       landing JSON -> trusted and curated zones as parallel HDF5 (the main job)\n"
    "  generate  write synthetic STEDI landing data (demo and benchmark input)\n"
    "  inspect   show a zone file's attributes, columns, row count and first rows\n"
    "\n"
    "`mpilake <command> --help` describes each command. `mpilake --version` prints the version.\n";

std::vector<std::string> arguments_after(int argc, char** argv, int first) {
  return std::vector<std::string>(argv + first, argv + argc);
}

// Parses `args` against `options` (+ positional); --help prints `help` + options and returns false.
bool parse_command(const std::vector<std::string>& args, const po::options_description& options,
                   const po::positional_options_description* positional, po::variables_map& values,
                   const std::string& help, const Comm& comm) {
  try {
    po::command_line_parser parser(args);
    parser.options(options);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), values);
    if (values.count("help") != 0U) {
      if (comm.is_root()) std::cout << help << "\n" << options << std::flush;
      return false;
    }
    po::notify(values);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return true;
}

// The value of --rules, or a usage error.
stedi::Rules rules_option(const std::string& text) {
  const auto rules = stedi::parse_rules(text);
  if (!rules) throw UsageError("unknown --rules '" + text + "' (expected privacy, serial or rubric)");
  return *rules;
}

// "auto" -> -1, "off" -> 0, else a byte count with an optional K, M, G or T suffix (powers of 1024).
std::int64_t parse_memory_limit(const std::string& text) {
  if (text == "auto") return -1;
  if (text == "off") return 0;
  std::size_t end = 0;
  double value = -1;
  try {
    value = std::stod(text, &end);
  } catch (...) {
    end = 0;
  }
  std::string unit = text.substr(end);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  double scale = 0;
  if (unit.empty())
    scale = 1;
  else if (unit == "K" || unit == "k")
    scale = 1024.0;
  else if (unit == "M" || unit == "m")
    scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "g")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "t")
    scale = 1024.0 * 1024 * 1024 * 1024;
  if (end == 0 || scale == 0 || !(value > 0) || value * scale > 9e18)
    throw UsageError("--memory-limit must be auto, off, or a size such as 512M or 16G (got '" + text + "')");
  return static_cast<std::int64_t>(value * scale);
}

int command_run(const Comm& comm, const std::vector<std::string>& args) {
  std::string landing, out, rules = "privacy";
  long long max_round_mb = 256;
  long long chunk_rows = 32768;
  std::string memory_limit = "auto";
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("landing", po::value(&landing)->required(), "landing root holding customer/, accelerometer/, step_trainer/")
      ("out", po::value(&out)->required(), "output folder for the zones (created if missing)")
      ("rules", po::value(&rules)->default_value(rules), "rule set: privacy | serial | rubric")
      ("overwrite", "replace zones already in --out (each zone is replaced atomically)")
      ("quiet,q", "no progress lines and no summary on the terminal (summary.json is still written)")
      ("results", "also print `RESULT key=value` lines for benchmark scripts (rank 0, stdout)")
      ("compress", "compress every dataset (shuffle + deflate): smaller files, slower writes")
      ("chunk-rows", po::value(&chunk_rows)->default_value(chunk_rows), "rows per HDF5 chunk")
      ("max-round-mb", po::value(&max_round_mb)->default_value(max_round_mb),
       "bytes each rank sends per exchange round, in MB (bounds memory; < 2048)")
      ("memory-limit", po::value(&memory_limit)->default_value(memory_limit),
       "memory the ranks of one node may use together, e.g. 16G; auto: what the node has available "
       "(MemAvailable or the cgroup limit); off: no check. A run that would need more stops at once");
  // clang-format on
  po::variables_map values;
  const std::string help =
      "usage: mpirun -np P mpilake run --landing DIR --out DIR [--rules privacy|serial|rubric] [--overwrite]\n"
      "\n"
      "Reads the landing JSON (each rank its own byte range of every source), quarantines bad lines,\n"
      "applies the rule set and writes OUT/<zone>.h5 for customer_trusted, accelerometer_trusted,\n"
      "customer_curated, step_trainer_trusted and machine_learning_curated, plus quarantine.jsonl,\n"
      "quarantine.h5 and summary.json. Rule sets:\n"
      "  privacy  consent-time filter, ML join on (serialNumber, timestamp)   [default]\n"
      "  serial   no consent-time filter, ML join on (serialNumber, timestamp)\n"
      "  rubric   no consent-time filter, ML join on timestamp alone (the original course's rule)\n";
  if (!parse_command(args, options, nullptr, values, help, comm)) return 0;
  stedi::RunOptions run;
  run.landing = landing;
  run.out = out;
  run.rules = rules_option(rules);
  run.overwrite = values.count("overwrite") != 0U;
  run.progress = values.count("quiet") == 0U;
  if (max_round_mb < 1 || max_round_mb >= 2048) throw UsageError("--max-round-mb must be between 1 and 2047");
  run.exchange.max_round_bytes = static_cast<std::int64_t>(max_round_mb) << 20;
  run.layout.compress = values.count("compress") != 0U;
  run.layout.chunk_rows = chunk_rows;
  if (run.layout.chunk_rows < 1) throw UsageError("--chunk-rows must be at least 1");
  run.memory_limit = parse_memory_limit(memory_limit);
  const auto summary = stedi::run_stedi(comm, run);
  if (comm.is_root() && values.count("results") != 0U) std::cout << stedi::result_lines(summary) << std::flush;
  if (comm.is_root() && run.progress)
    std::cout << "\n" << stedi::format_summary(summary) << "\nzones and summary.json in " << out << "\n" << std::flush;
  return 0;
}

int command_generate(const Comm& comm, const std::vector<std::string>& args) {
  stedi::GenerateOptions generate;
  std::string out;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("out", po::value(&out)->required(), "landing root to write (customer/, accelerometer/, step_trainer/)")
      ("customers", po::value(&generate.customers)->default_value(generate.customers), "number of customers")
      ("readings-per-customer", po::value(&generate.readings_per_customer)->default_value(generate.readings_per_customer),
       "mean step-trainer (and matching accelerometer) readings per device")
      ("target-bytes", po::value(&generate.target_bytes)->default_value(0),
       "aim for about this many landing bytes (overrides --readings-per-customer)")
      ("seed", po::value(&generate.seed)->default_value(generate.seed), "random seed (same seed, same files, any rank count)")
      ("consent-fraction", po::value(&generate.consent_fraction)->default_value(generate.consent_fraction),
       "share of customers who consented to research")
      ("shared-serial-fraction", po::value(&generate.shared_serial_fraction)->default_value(generate.shared_serial_fraction),
       "share of customers reusing another customer's serial number")
      ("bad-line-rate", po::value(&generate.bad_line_rate)->default_value(generate.bad_line_rate),
       "share of lines written broken (to exercise the quarantine)");
  // clang-format on
  po::variables_map values;
  const std::string help =
      "usage: mpirun -np P mpilake generate --out DIR [--customers N] [--readings-per-customer K | --target-bytes B]\n"
      "                                      [--seed S] [--consent-fraction F] [--shared-serial-fraction F] "
      "[--bad-line-rate R]\n"
      "\n"
      "Writes synthetic STEDI landing data shaped like the starter data, each rank its own files.\n";
  if (!parse_command(args, options, nullptr, values, help, comm)) return 0;
  generate.out = out;
  const auto report = stedi::generate_landing(generate, comm.get());
  if (comm.is_root())
    std::cout << "generated " << report.files << " files, " << report.bytes << " bytes: " << report.customer_rows
              << " customer, " << report.accelerometer_rows << " accelerometer, " << report.step_trainer_rows
              << " step-trainer rows in " << out << "\n"
              << std::flush;
  return 0;
}

// `generate [--pipeline stedi|deloton]`: without --pipeline, or with stedi, the STEDI generator.
int command_generate_pipeline(const Comm& comm, std::vector<std::string> args) {
  std::string pipeline = "stedi";
  for (auto it = args.begin(); it != args.end();) {
    if (*it == "--pipeline" && it + 1 != args.end()) {
      pipeline = *(it + 1);
      it = args.erase(it, it + 2);
    } else if (it->starts_with("--pipeline=")) {
      pipeline = it->substr(11);
      it = args.erase(it);
    } else {
      ++it;
    }
  }
  if (pipeline == "stedi") return command_generate(comm, args);
  if (pipeline != "deloton") throw UsageError("unknown --pipeline '" + pipeline + "' (expected stedi or deloton)");
  deloton::GenerateOptions generate;
  std::string out;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("out", po::value(&out)->required(), "landing root to write (the files go to OUT/deloton/partition=<stream>/)")
      ("bikes", po::value(&generate.bikes)->default_value(generate.bikes), "bikes in the fleet")
      ("days", po::value(&generate.days)->default_value(generate.days), "days of rides, from --start-date")
      ("streams", po::value(&generate.streams)->default_value(generate.streams), "Kafka partitions (bike b logs to b % streams)")
      ("seed", po::value(&generate.seed)->default_value(generate.seed), "random seed (same seed, same files, any rank count)")
      ("bad-line-rate", po::value(&generate.bad_line_rate)->default_value(generate.bad_line_rate),
       "share of lines written broken or left out (to exercise the quarantine)")
      ("start-date", po::value(&generate.start_date)->default_value(generate.start_date), "first day (UTC), YYYY-MM-DD")
      ("riders", po::value(&generate.riders)->default_value(generate.riders), "rider pool size (0: three per bike)")
      ("hours-per-file", po::value(&generate.hours_per_file)->default_value(generate.hours_per_file),
       "hours of a stream per file")
      ("duplicate-rate", po::value(&generate.duplicate_rate)->default_value(generate.duplicate_rate, "0.0005"),
       "chance per line that Kafka re-sends the few lines up to it")
      ("target-bytes", po::value(&generate.target_bytes)->default_value(0), "aim for about this many bytes (sets --days)")
      ("root-stream", "write stream 0's files directly in OUT/deloton/ (the stream named \"\")")
      ("overwrite", "replace an existing, non-empty OUT/deloton");
  // clang-format on
  po::variables_map values;
  const std::string help =
      "usage: mpirun -np P mpilake generate --pipeline deloton --out DIR [--bikes N] [--days D | --target-bytes B]\n"
      "                                     [--streams P] [--seed S] [--bad-line-rate R] [--overwrite]\n"
      "\n"
      "Writes synthetic Deloton landing data (Kafka Connect dumps of the bikes' log topic), each rank its own\n"
      "files; the same options give the same bytes at any rank count.\n";
  if (!parse_command(args, options, nullptr, values, help, comm)) return 0;
  generate.out = out;
  generate.root_stream = values.count("root-stream") != 0U;
  generate.overwrite = values.count("overwrite") != 0U;
  const auto report = deloton::generate_landing(generate, comm);
  const auto& totals = report.totals;
  if (comm.is_root())
    std::cout << "generated " << report.files << " files, " << totals.bytes << " bytes (" << report.days
              << " days): " << totals.rides << " rides, " << totals.readings << " readings, " << totals.lines
              << " lines (" << totals.duplicates << " re-sent, " << totals.orphan_lines << " orphans, "
              << totals.bad_lines() << " bad), " << totals.alert_rides << " alerting rides in " << out << "/deloton\n"
              << "took " << report.seconds
              << " s: " << static_cast<double>(totals.bytes) / 1e6 / (report.seconds > 0 ? report.seconds : 1e-9) / comm.size()
              << " MB/s per rank\n"
              << std::flush;
  return 0;
}

std::string cell_text(const Table& table, const ColumnInfo& info, std::size_t column, std::size_t row) {
  switch (info.type) {
    case ColumnType::Int64: {
      const auto value = table.ints(column)[row];
      return info.has_null_value && value == info.null_value ? "NULL" : std::to_string(value);
    }
    case ColumnType::Float64: {
      char text[32];
      std::snprintf(text, sizeof text, "%g", table.floats(column)[row]);
      return text;
    }
    case ColumnType::String: return std::string(table.strings(column)[row]);
  }
  return {};
}

int command_inspect(const Comm& comm, const std::vector<std::string>& args) {
  std::string file;
  long long rows = 5;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("file", po::value(&file)->required(), "zone file (.h5)")(
      "rows,n", po::value(&rows)->default_value(rows), "how many first rows to show");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map values;
  if (!parse_command(args, options, &positional, values,
                     "usage: mpilake inspect FILE.h5 [--rows N]\n\nShows a zone's attributes, columns with types, "
                     "row count and first rows.\n",
                     comm))
    return 0;
  if (!comm.is_root()) return 0;
  const ZoneFile zone = read_zone(file, rows);
  std::ostringstream out;
  out << file << "\n\nattributes:\n";
  for (const auto& attribute : zone.attributes) {
    std::string text = attribute_text(attribute.value);
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    out << "  " << attribute.name << " = " << text << "\n";
  }
  out << "\ncolumns (" << zone.rows << " rows):\n";
  for (const auto& column : zone.columns) {
    out << "  " << column.name << "  " << column_type_name(column.type);
    if (column.type == ColumnType::String) out << " (fixed length " << column.string_width << ", NUL-padded)";
    if (column.has_null_value) out << " (NULL = " << column.null_value << ")";
    out << "\n";
  }
  out << "\nfirst " << zone.table.num_rows() << " rows:\n";
  for (std::size_t r = 0; r < zone.table.num_rows(); ++r) {
    out << "  ";
    for (std::size_t c = 0; c < zone.columns.size(); ++c)
      out << (c ? " | " : "") << cell_text(zone.table, zone.columns[c], c, r);
    out << "\n";
  }
  std::cout << out.str() << std::flush;
  return 0;
}

int command_audit(const Comm& comm, const std::vector<std::string>& args) {
  std::string landing, out, rules;
  long long max_report = 20;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("landing", po::value(&landing)->required(), "landing root the run read (its customer/ is re-read)")
      ("out", po::value(&out)->required(), "the run's output folder (zones and summary.json)")
      ("rules", po::value(&rules), "rule set to audit against: privacy | serial | rubric (default: the zones' `rules` attribute)")
      ("max-report", po::value(&max_report)->default_value(max_report), "violations to list (all are counted)");
  // clang-format on
  po::variables_map values;
  const std::string help =
      "usage: mpirun -np P mpilake audit --landing DIR --out DIR [--rules privacy|serial|rubric] [--max-report N]\n"
      "\n"
      "Checks a finished run independently of the pipeline: re-reads the landing customers and walks every\n"
      "row of every zone. Every trusted/curated row must belong to a customer who consented (privacy: taken\n"
      "at or after consent); every ML row must pair readings of the same time (privacy, serial: and a device\n"
      "of that user); row counts must agree (`rows` attribute, dataset lengths, summary.json). Prints one\n"
      "line per violation (up to --max-report) and `audit: N rows checked in Z zones, V violations`.\n"
      "Exit code: 0 clean, 1 violations found, 2 the audit could not run.\n";
  if (!parse_command(args, options, nullptr, values, help, comm)) return 0;
  stedi::AuditOptions audit;
  audit.landing = landing;
  audit.out = out;
  if (values.count("rules") != 0U) {
    audit.rules = rules_option(rules);
    audit.rules_given = true;
  }
  if (max_report < 0) throw UsageError("--max-report must be 0 or more");
  audit.max_report = max_report;
  const auto report = stedi::run_audit(comm, audit);
  if (comm.is_root()) std::cout << stedi::format_audit(report) << std::flush;
  return report.clean() ? 0 : 1;
}

int dispatch(const Comm& comm, int argc, char** argv) {
  if (argc < 2) throw UsageError("no command given (expected run, generate, inspect or audit; see --help)");
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    if (comm.is_root()) std::cout << kTopHelp << std::flush;
    return 0;
  }
  if (command == "--version") {
    if (comm.is_root()) std::cout << "mpilake " << kVersion << "\n" << std::flush;
    return 0;
  }
  const auto args = arguments_after(argc, argv, 2);
  if (command == "run") return command_run(comm, args);
  if (command == "generate") return command_generate_pipeline(comm, args);
  if (command == "inspect") return command_inspect(comm, args);
  if (command == "audit") return command_audit(comm, args);
  throw UsageError("unknown command '" + command + "' (expected run, generate, inspect or audit; see --help)");
}

}  // namespace

// The job allocates and frees large tables stage after stage. By default glibc serves each large
// block with a fresh mmap and returns it on free, so every stage pays the kernel to fault in and
// zero new pages (measured: about a quarter of a run's time on a VM). Serving them from the heap
// and keeping freed memory for the next stage removes most of that; the peak stays about the same
// (bench/README.md).
void keep_freed_memory_for_reuse() {
#ifdef __GLIBC__
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

int main(int argc, char** argv) {
  keep_freed_memory_for_reuse();
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
    std::fprintf(stderr, "mpilake: error: MPI_Init failed\n");
    return 1;
  }
  int exit_code = 0;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    const Comm world(MPI_COMM_WORLD);
    exit_code = dispatch(world, argc, argv);
  } catch (const UsageError& e) {
    // Raised alike on every rank (same arguments everywhere): report once, stop cleanly.
    if (rank == 0) std::fprintf(stderr, "mpilake: error: %s\n", e.what());
    exit_code = 2;
  } catch (const ConsistentError& e) {
    if (rank == 0) std::fprintf(stderr, "mpilake: error: %s\n", e.what());
    exit_code = 2;
  } catch (const std::exception& e) {
    // Possibly raised on this rank only: the others may be waiting in a collective, so abort the job.
    std::fprintf(stderr, "mpilake: error (rank %d): %s\n", rank, e.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return exit_code;
}
