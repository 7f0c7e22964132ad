#pragma once
// The output folder of a run: created when missing, locked for the run, and checked before anything
// is written, so a second run, a file in the way or zones from an earlier run stop the job at once
// with one clear line.
#include <filesystem>
#include <string>
#include <vector>

#include "mpilake/io/output_lock.hpp"
#include "mpilake/mpi/comm.hpp"

namespace mpilake::job {

// Collective. Throws ConsistentError on every rank when `out` is not a folder, another run holds it,
// or it already holds one of `zones` (as `<zone>.h5`) and `overwrite` is off.
OutputLock prepare_output(const Comm& comm, const std::filesystem::path& out, bool overwrite,
                          const std::vector<std::string>& zones);

}  // namespace mpilake::job
