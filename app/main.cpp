// mpilake command line: `run`, `generate` and `audit` of a pipeline chosen by --pipeline (see
// cli.hpp for the registry), and `inspect` for any zone file. Only this file touches
// MPI_COMM_WORLD; everything below takes the communicator explicitly.
#include <malloc.h>
#include <mpi.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mpilake/h5/zone_reader.hpp"
#include "mpilake/job/stop_report.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/version.hpp"

namespace po = boost::program_options;
using namespace mpilake;
using namespace mpilake::cli;

namespace {

std::vector<std::string> arguments_after(int argc, char** argv, int first) {
  return std::vector<std::string>(argv + first, argv + argc);
}

std::string pipeline_list() {
  std::string text;
  for (const auto& pipeline : pipelines())
    text += "  " + pipeline.name + std::string(10 - std::min<std::size_t>(9, pipeline.name.size()), ' ') +
            pipeline.summary + (&pipeline == &pipelines().front() ? " [default]" : "") + "\n";
  return text;
}

std::string tool_list() {
  std::string text;
  for (const auto& tool : tools())
    text += "  " + tool.name + std::string(10 - std::min<std::size_t>(9, tool.name.size()), ' ') + tool.summary + "\n";
  return text;
}

std::string command_names() {
  std::string names = "run, generate, inspect, audit";
  for (const auto& tool : tools()) names += ", " + tool.name;
  return names;
}

std::string top_help() {
  return "mpilake - MPI batch processor for lakehouse dumps\n"
         "\n"
         "usage: mpirun -np P mpilake <command> [--pipeline NAME] [options]\n"
         "\n"
         "commands:\n"
         "  run       landing JSON -> trusted and curated zones as parallel HDF5 (the main job)\n"
         "  generate  write synthetic landing data (demo and benchmark input)\n"
         "  audit     check a finished run's zones against the rules, independently of the pipeline\n"
         "  inspect   show a zone file's attributes, columns, row count and first rows\n" +
         tool_list() +
         "\n"
         "pipelines (--pipeline NAME for run, generate and audit):\n" +
         pipeline_list() +
         "\n"
         "`mpilake <command> --help` describes each command. `mpilake --version` prints the version.\n";
}

void add_pipeline_option(po::options_description& options) {
  options.add_options()("pipeline", po::value<std::string>()->default_value(pipelines().front().name),
                        ("pipeline: " + pipeline_names()).c_str());
}

int command_run(const Comm& comm, const std::vector<std::string>& args) {
  const PipelineCli& pipeline = pipeline_from(args);
  RunRequest request;
  auto& job = request.job;
  std::string landing, out, memory_limit = "auto", scratch;
  long long max_round_mb = 256;
  long long chunk_rows = 32768;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help");
  add_pipeline_option(options);
  options.add_options()
      ("landing", po::value(&landing)->required(), "landing root (the pipeline's source folders)")
      ("out", po::value(&out)->required(), "output folder for the zones (created if missing)")
      ("overwrite", "replace zones already in --out (each zone is replaced atomically)")
      ("quiet,q", "no progress lines and no summary on the terminal (summary.json is still written)")
      ("progress-interval", po::value(&job.progress_interval_seconds)->default_value(job.progress_interval_seconds),
       "seconds between progress lines when stderr is not a terminal (a Slurm log); a terminal gets a live line")
      ("results", "also print `RESULT key=value` lines for benchmark scripts (rank 0, stdout)")
      ("compress", "compress every dataset (shuffle + deflate): smaller files, slower writes")
      ("chunk-rows", po::value(&chunk_rows)->default_value(chunk_rows), "rows per HDF5 chunk")
      ("max-round-mb", po::value(&max_round_mb)->default_value(max_round_mb),
       "bytes each rank sends per exchange round, in MB (bounds memory; < 2048)")
      ("memory-limit", po::value(&memory_limit)->default_value(memory_limit),
       "memory the ranks of one node may use together, e.g. 16G; auto: what the node has available "
       "(MemAvailable or the cgroup limit, e.g. a Slurm job's --mem); off: no limit. A run that would need "
       "more spills to --scratch and writes its zones in passes, with the same zones (docs/spill.md)")
      ("scratch", po::value(&scratch),
       "folder for a budgeted run's spill files (default: --out; on a cluster, node-local disk such as Slurm's "
       "$TMPDIR); removed at the end and on every failure");
  // clang-format on
  po::options_description own(pipeline.name + " options");
  pipeline.run.add_options(own);
  options.add(own);
  po::variables_map values;
  const std::string help = pipeline.run.usage + "\n" + pipeline.run.description +
                           "\nPipelines (--pipeline; `mpilake run --pipeline NAME --help` shows its flags):\n" +
                           pipeline_list();
  if (!parse_command(args, options, nullptr, values, help, comm)) return 0;
  job.landing = landing;
  job.out = out;
  job.overwrite = values.count("overwrite") != 0U;
  job.progress = values.count("quiet") == 0U;
  if (!(job.progress_interval_seconds > 0)) throw UsageError("--progress-interval must be more than 0 seconds");
  if (max_round_mb < 1 || max_round_mb >= 2048) throw UsageError("--max-round-mb must be between 1 and 2047");
  job.exchange.max_round_bytes = static_cast<std::int64_t>(max_round_mb) << 20;
  job.layout.compress = values.count("compress") != 0U;
  job.layout.chunk_rows = chunk_rows;
  if (job.layout.chunk_rows < 1) throw UsageError("--chunk-rows must be at least 1");
  job.memory_limit = parse_memory_limit(memory_limit);
  job.scratch = scratch;
  request.values = &values;
  request.print_results = values.count("results") != 0U;
  return pipeline.run.action(comm, request);
}

// `generate` and `audit`: the pipeline's own command, if it has one.
int command_of_pipeline(const Comm& comm, const std::vector<std::string>& args, const std::string& command) {
  const PipelineCli& pipeline = pipeline_from(args);
  const auto& chosen = command == "generate" ? pipeline.generate : pipeline.audit;
  if (!chosen) throw UsageError("pipeline '" + pipeline.name + "' has no `" + command + "` command");
  po::options_description options("options");
  options.add_options()("help,h", "show this help");
  add_pipeline_option(options);
  chosen->add_options(options);
  po::variables_map values;
  if (!parse_command(args, options, nullptr, values, chosen->usage + "\n" + chosen->description, comm)) return 0;
  return chosen->action(comm, values);
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

// A zone file as `inspect` shows it: attributes, columns with types, row count, first rows.
void describe_zone(const std::string& file, long long rows, std::ostringstream& out) {
  const ZoneFile zone = read_zone(file, rows);
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
}

int command_inspect(const Comm& comm, const std::vector<std::string>& args) {
  std::string file;
  long long rows = 5;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("file", po::value(&file), "zone file (.h5)")(
      "rows,n", po::value(&rows)->default_value(rows), "how many first rows to show");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map values;
  if (!parse_command(args, options, &positional, values,
                     "usage: mpilake inspect FILE.h5 [--rows N]\n\nShows a zone's attributes, columns with types, "
                     "row count and first rows.\n",
                     comm))
    return 0;
  if (file.empty()) throw UsageError("no zone file given (usage: mpilake inspect FILE.h5 [--rows N])");
  // Rank 0 reads; a missing or unreadable file is one error line from it, and every rank stops alike.
  std::ostringstream out;
  comm.on_root([&] { describe_zone(file, rows, out); });
  if (comm.is_root()) std::cout << out.str() << std::flush;
  return 0;
}

int dispatch(const Comm& comm, int argc, char** argv) {
  if (argc < 2) throw UsageError("no command given (expected " + command_names() + "; see --help)");
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    if (comm.is_root()) std::cout << top_help() << std::flush;
    return 0;
  }
  if (command == "--version") {
    if (comm.is_root()) std::cout << "mpilake " << kVersion << "\n" << std::flush;
    return 0;
  }
  const auto args = arguments_after(argc, argv, 2);
  if (command == "run") return command_run(comm, args);
  if (command == "generate" || command == "audit") return command_of_pipeline(comm, args, command);
  if (command == "inspect") return command_inspect(comm, args);
  for (const auto& tool : tools())
    if (tool.name == command) return tool.action(comm, args);
  throw UsageError("unknown command '" + command + "' (expected " + command_names() + "; see --help)");
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
  job::report_stop_signal(rank == 0);
  try {
    const Comm world(MPI_COMM_WORLD);
    exit_code = dispatch(world, argc, argv);
    job::report_stop_signal(false);  // done: the launcher stopping the others now is not news
  } catch (const UsageError& e) {
    job::report_stop_signal(false);
    // Raised alike on every rank (same arguments everywhere): report once, stop cleanly.
    if (rank == 0) std::fprintf(stderr, "mpilake: error: %s\n", e.what());
    exit_code = 2;
  } catch (const ConsistentError& e) {
    job::report_stop_signal(false);
    if (rank == 0) std::fprintf(stderr, "mpilake: error: %s\n", e.what());
    exit_code = 2;
  } catch (const std::exception& e) {
    // Possibly raised on this rank only: the others may be waiting in a collective, so abort the job.
    // This rank's line is the one: the ranks stopped by the abort stay silent (the stop marker).
    job::claim_stop_report();
    job::report_stop_signal(false);
    const char* stage = job::current_stage();
    if (stage != nullptr)
      std::fprintf(stderr, "mpilake: error (rank %d, stage '%s'): %s\n", rank, stage, e.what());
    else
      std::fprintf(stderr, "mpilake: error (rank %d): %s\n", rank, e.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return exit_code;
}
