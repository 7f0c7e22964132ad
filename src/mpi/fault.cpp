#include "mpilake/mpi/fault.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace mpilake {

void fault_point(std::string_view point, const Comm& comm) {
  static const char* const setting = std::getenv("MPILAKE_FAULT");
  if (setting == nullptr) return;
  const std::string_view text(setting);
  // <point>:<rank> kills that rank; <point>:<rank>:stall pauses it for 5 s instead (lock tests),
  // <point>:<rank>:stall=SECONDS for that long (lost-host tests); <point>:<rank>:throw makes it
  // throw (a failure on one rank only).
  std::string_view rest = text;
  const auto first_colon = rest.find(':');
  if (first_colon == std::string_view::npos || rest.substr(0, first_colon) != point) return;
  rest = rest.substr(first_colon + 1);
  const auto second_colon = rest.find(':');
  const std::string_view mode = second_colon == std::string_view::npos ? "" : rest.substr(second_colon + 1);
  const bool stall = mode == "stall" || mode.starts_with("stall=");
  if (rest.substr(0, second_colon) != std::to_string(comm.rank())) return;
  if (stall) {
    const int seconds = mode == "stall" ? 5 : std::atoi(std::string(mode.substr(6)).c_str());
    // A timed stall says when it starts, so that a test can act while the rank is held there.
    if (mode != "stall")
      std::fprintf(stderr, "mpilake: fault: rank %d stalls %d s at %.*s\n", comm.rank(), seconds,
                   static_cast<int>(point.size()), point.data());
    std::fflush(stderr);
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    return;
  }
  if (mode == "throw") throw std::runtime_error("injected fault at " + std::string(point));
  std::raise(SIGKILL);
}

}  // namespace mpilake
