#pragma once
// `mpilake export`: loads every zone of a finished run (STEDI or Deloton) into one PostgreSQL schema
// for BI tools, each rank streaming its own contiguous rows of each zone with binary COPY on its own
// connection, then swaps the new tables in atomically (docs/export.md).
#include <cstdint>
#include <filesystem>
#include <string>

#include "mpilake/mpi/comm.hpp"

namespace mpilake::exporter {

struct ExportOptions {
  std::filesystem::path out;        // the run's output folder
  std::string conninfo;             // postgresql://... or "key=value ..." (libpq)
  std::string schema;               // target schema; empty: the pipeline's name
  std::string bi_role;              // read-only role for BI tools; empty: <schema>_bi
  bool progress = true;             // rank 0 prints rows loaded per zone on stderr
  std::int64_t batch_rows = 16384;  // rows read from HDF5 at a time
};

struct ExportResult {
  std::string pipeline;
  std::string schema;
  std::string bi_role;
  std::int64_t rows = 0;  // all tables together
  double seconds = 0;
};

// Collective. Throws ConsistentError (every rank alike) with one line for anything that goes wrong:
// not a run folder, a bad URL, the server down, authentication, a load or swap failure. The target
// schema is then untouched.
ExportResult run_export(const Comm& comm, const ExportOptions& options);

// Schema names are kept to [a-z_][a-z0-9_]* of at most 40 characters (room for the staging suffix, no
// quoting surprises in BI tools); the error message when `name` is not one, else "".
std::string schema_name_problem(const std::string& name);

}  // namespace mpilake::exporter
