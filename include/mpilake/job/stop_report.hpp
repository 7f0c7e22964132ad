#pragma once
// When a job is stopped from outside, the one line that says where it was. Open MPI's daemons end a
// job whose rank or host was lost by sending SIGTERM (then SIGKILL) to every rank left; Slurm does
// the same on scancel or at the time limit. The detection is theirs; this only reports the stage
// the job was in, so the user knows which part of the run was lost.
#include <string>

namespace mpilake::job {

// The stage this process is in (StageClock sets it), or nullptr outside any stage. The text is a
// copy held for the whole process (valid after the job that named it is gone), so it changes when
// the next stage is set: keep a std::string to restore it later.
const char* current_stage();
void set_current_stage(const char* name);

// Installs a SIGTERM handler: with `report` (rank 0), once a stage has been entered, it writes
// "mpilake: error: the job was stopped (SIGTERM ...) in stage '<stage>'" to stderr in one write
// (async-signal-safe); it then dies of SIGTERM as it would have without the handler.
// report_stop_signal(false) turns the line off (the run is over: its own errors are out).
void report_stop_signal(bool report);

// The run's stop marker, a file in --out (which every host shares). Once it is set, any rank's
// SIGTERM handler that creates the file first (O_EXCL) writes the line and the others stay silent,
// so there is one line whichever host was lost, rank 0's included. A stale marker is removed before
// it is set (prepare_output). report_stop_signal(false) unsets it.
void set_stop_marker(const std::string& path);
// For a rank about to report its own error and abort the job: claims the marker, so the ranks the
// launcher then stops add no second line to that rank's own.
void claim_stop_report();

}  // namespace mpilake::job
