// `mpilake export`: a finished run's zones into PostgreSQL for BI tools (tools/export/, docs/export.md).
#include "cli.hpp"
#include "mpilake/export/export.hpp"

namespace mpilake::cli {

namespace {

const char* const kUsage =
    "usage: mpirun -np P mpilake export --out DIR --postgres URL [--schema NAME] [--bi-role NAME] [--quiet]";
const char* const kDescription =
    "\nLoads every zone of a finished STEDI or Deloton run (and its quarantine) into one PostgreSQL schema\n"
    "with binary COPY, each rank streaming its own rows of each zone on its own connection: real types\n"
    "(timestamptz, date, bigint, double precision, text, NULLs), primary keys, indexes, for Deloton views\n"
    "with rider demographics and no personal data, and a read-only role for BI tools (created NOLOGIN\n"
    "when missing) that sees the views and the non-personal columns only. The load goes to a staging\n"
    "schema and is swapped in with one transaction: readers see the old tables or the new ones, never a\n"
    "half-loaded one, also when a rank dies. See docs/export.md (and how to point Tableau at it).\n"
    "URL: postgresql://[user[:password]@]host[:port]/dbname[?param=value] or a libpq \"key=value\" string.\n";

int action(const Comm& comm, const std::vector<std::string>& args) {
  exporter::ExportOptions options;
  std::string out;
  po::options_description flags("options");
  // clang-format off
  flags.add_options()
      ("help,h", "show this help")
      ("out", po::value(&out)->required(), "the run's output folder (zones and summary.json)")
      ("postgres", po::value(&options.conninfo)->required(), "the database: postgresql://... (libpq URI or key=value string)")
      ("schema", po::value(&options.schema), "target schema (default: the pipeline's name, stedi or deloton); replaced as a whole")
      ("bi-role", po::value(&options.bi_role), "read-only role for BI tools (default: <schema>_bi)")
      ("quiet,q", "no progress lines");
  // clang-format on
  po::variables_map values;
  if (!parse_command(args, flags, nullptr, values, std::string(kUsage) + "\n" + kDescription, comm)) return 0;
  options.out = out;
  options.progress = values.count("quiet") == 0U;
  if (values.count("schema") != 0U) {
    if (const std::string problem = exporter::schema_name_problem(options.schema); !problem.empty())
      throw UsageError(problem);
  }
  if (values.count("bi-role") != 0U && (options.bi_role.empty() || options.bi_role.size() > 63))
    throw UsageError("--bi-role must have 1 to 63 characters");
  if (options.conninfo.empty()) throw UsageError("--postgres needs a connection URL (postgresql://...)");
  exporter::run_export(comm, options);
  return 0;
}

}  // namespace

ToolCli export_cli() {
  return ToolCli{"export", "load a finished run's zones into PostgreSQL for Tableau (atomic swap)", action};
}

}  // namespace mpilake::cli
