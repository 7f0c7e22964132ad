#pragma once
// `mpilake audit --pipeline deloton`: an independent check of a finished run. Rank 0 re-reads the
// landing's ride starts (their user JSON: the rider's limits and personal details) and walks every
// zone in bounded chunks. It checks:
//  - privacy: rides, readings and daily hold only their contract's datasets, and none of their text
//    is a rider's name, email or address;
//  - alerts: every alert is justified by three consecutive abnormal readings in `readings` under the
//    limits of the ride's own start (its time, heart rate, side, limits, age, gender, email, first
//    name), and every ride with such a run has its alert (rides.alert and heart_rate_alerts agree);
//  - readings and rides agree: dense ride ids, ride_offset, reading counts, end times, durations,
//    heart-rate, rpm, resistance and power figures recomputed from the readings; riders' and daily
//    ride counts; row counts against the `rows` attribute and summary.json;
//  - riders.gender holds only DELOTON.md's classes male / female / other.
// It shares no ride-building code with the pipeline (only the line grammar and the rider rules, which
// have their own unit tests).
#include <cstdint>
#include <filesystem>

#include "mpilake/job/zone_audit.hpp"
#include "mpilake/mpi/comm.hpp"

namespace mpilake::deloton {

struct AuditOptions {
  std::filesystem::path landing;  // the landing root the run read (its deloton/ is re-read)
  std::filesystem::path out;      // the run's output folder
  std::int64_t max_report = 20;
  std::int64_t chunk_rows = 1 << 20;
};

// Collective (rank 0 does the work); the same report on every rank. ConsistentError when the audit
// cannot run at all (no such folder).
job::AuditReport run_audit(const Comm& comm, const AuditOptions& options);

}  // namespace mpilake::deloton
