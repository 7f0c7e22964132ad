#include "mpilake/job/output_folder.hpp"

#include <stdexcept>

#include "mpilake/job/stop_report.hpp"

namespace mpilake::job {

OutputLock prepare_output(const Comm& comm, const std::filesystem::path& out, bool overwrite,
                          const std::vector<std::string>& zones) {
  namespace fs = std::filesystem;
  comm.on_root([&] {
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_directory(out, ec))
      throw std::runtime_error("output path '" + out.string() + "' exists and is not a folder");
    fs::create_directories(out, ec);
    if (ec) throw std::runtime_error("cannot create output folder '" + out.string() + "': " + ec.message());
  });
  OutputLock lock = OutputLock::acquire(comm, out);
  comm.on_root([&] {
    if (overwrite) return;
    std::error_code ec;
    std::string found;
    for (const auto& zone : zones)
      if (fs::exists(out / (zone + ".h5"), ec)) found += (found.empty() ? "" : ", ") + zone + ".h5";
    if (!found.empty())
      throw std::runtime_error("output folder '" + out.string() + "' already holds zones (" + found +
                               "); pass --overwrite to replace them");
  });
  // The stop marker (stop_report.hpp) of an earlier run that was stopped goes before any rank may
  // create this run's (on_root returns on every rank only after rank 0 is done).
  const fs::path marker = out / ".mpilake.stopped";
  comm.on_root([&] {
    std::error_code ec;
    fs::remove(marker, ec);
  });
  set_stop_marker(marker.string());
  return lock;
}

}  // namespace mpilake::job
