#pragma once
// What every command of the command line shares: strict option parsing (no abbreviated flags, no
// stray arguments), one-line usage errors, the generic flags of `run`, and the registry of
// pipelines. A pipeline plugs into the CLI with a PipelineCli (see docs/pipelines.md).
#include <boost/program_options.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpilake/job/job.hpp"
#include "mpilake/mpi/comm.hpp"

namespace mpilake::cli {

namespace po = boost::program_options;

// A mistake in how mpilake was called: reported in one line by rank 0, exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses `args` against `options` (+ positional, none when null): abbreviated long options and
// arguments no option takes are errors. --help prints `help` + options on rank 0 and returns false.
bool parse_command(const std::vector<std::string>& args, const po::options_description& options,
                   const po::positional_options_description* positional, po::variables_map& values,
                   const std::string& help, const Comm& comm);

// "auto" -> -1, "off" -> 0, else a byte count with an optional K, M, G or T suffix (powers of 1024).
std::int64_t parse_memory_limit(const std::string& text);

// A byte count for `option`: 2500000, 2.5e9 or 512M / 2G (K, M, G, T: powers of 1024, an optional B);
// zero allowed. UsageError naming the option otherwise.
std::int64_t parse_byte_count(const std::string& text, const std::string& option);

// What `run` hands a pipeline: the generic job options and how to report.
struct RunRequest {
  job::JobOptions job;
  const po::variables_map* values = nullptr;  // the pipeline's own flags are in here too
  bool print_results = false;                 // --results: RESULT lines on stdout
};

// One command of one pipeline: its usage line, what it does, its own flags, and the action.
template <class Action>
struct PipelineCommand {
  std::string usage;        // the synopsis, starting with "usage: "
  std::string description;  // what it does (printed after the usage line)
  std::function<void(po::options_description&)> add_options;
  Action action;
};
using RunAction = std::function<int(const Comm&, const RunRequest&)>;
using ToolAction = std::function<int(const Comm&, const po::variables_map&)>;

struct PipelineCli {
  std::string name;     // --pipeline NAME
  std::string summary;  // one line for `mpilake --help`
  PipelineCommand<RunAction> run;
  std::optional<PipelineCommand<ToolAction>> generate;
  std::optional<PipelineCommand<ToolAction>> audit;
};

// The registered pipelines, the default first.
const std::vector<PipelineCli>& pipelines();
std::string pipeline_names();  // "stedi|deloton"

// The --pipeline value in `args` ("--pipeline X" or "--pipeline=X"), else the default; a usage
// error for an unknown name.
const PipelineCli& pipeline_from(const std::vector<std::string>& args);

// Each pipeline's registration (one source file per pipeline in app/).
PipelineCli stedi_cli();
PipelineCli deloton_cli();

// A command that works on a finished run's output folder rather than running a pipeline (report,
// alerts, export, serve): its code is a library in tools/<name>/, its command line in
// app/<name>_cli.cpp. `args` are the arguments after the command's name.
struct ToolCli {
  std::string name;     // the command: `mpilake NAME ...`
  std::string summary;  // one line for `mpilake --help`
  std::function<int(const Comm&, const std::vector<std::string>& args)> action;
};

// The registered tools, in the order `mpilake --help` lists them.
const std::vector<ToolCli>& tools();

// Each tool's registration (app/<name>_cli.cpp).
ToolCli report_cli();
ToolCli alerts_cli();
ToolCli export_cli();
ToolCli serve_cli();

}  // namespace mpilake::cli
