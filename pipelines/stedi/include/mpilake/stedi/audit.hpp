#pragma once
// `mpilake audit`: an independent check of a finished run. It re-reads the landing customers and
// walks every row of every written zone (in bounded chunks), checking the rules of DESIGN.md on each
// row: every trusted/curated row belongs to a customer who consented (under `privacy`: a reading
// taken at or after consent), every ML row pairs readings of the same device and time, and the
// row counts agree (`rows` attribute = dataset lengths = summary.json). It shares no join code with
// the pipeline: it is a separate, simple, single-process path (rank 0 does the work).
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mpilake/job/zone_audit.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/stedi/schema.hpp"

namespace mpilake::stedi {

struct AuditOptions {
  std::filesystem::path landing;  // the landing root the run read
  std::filesystem::path out;      // the run's output folder (zones and summary.json)
  Rules rules = Rules::Privacy;   // used when rules_given; otherwise taken from the zones' `rules` attribute
  bool rules_given = false;
  std::int64_t max_report = 20;       // violations listed in `examples` (all are counted)
  std::int64_t chunk_rows = 1 << 20;  // zone rows held in memory at a time
};

using job::AuditReport;

// Collective (every rank calls it; rank 0 does the work) and returns the same report on every rank.
// Throws ConsistentError on every rank when the audit cannot be done at all (no such output or
// landing folder, rule set unknowable).
AuditReport run_audit(const Comm& comm, const AuditOptions& options);

using job::format_audit;

}  // namespace mpilake::stedi
