#pragma once
// Fault injection for crash tests: with MPILAKE_FAULT=<point>:<rank> in the environment, that rank
// kills itself with SIGKILL when it reaches the named point (e.g. "exchange" in the middle of a
// shuffle, "write" in the middle of a zone write); <point>:<rank>:stall pauses it for 5 s instead,
// <point>:<rank>:stall=SECONDS for that long, and <point>:<rank>:throw makes it throw
// std::runtime_error("injected fault at <point>") (an error on that rank only).
// Without the variable this is a cheap no-op.
#include <string_view>

#include "mpilake/mpi/comm.hpp"

namespace mpilake {

void fault_point(std::string_view point, const Comm& comm);

}  // namespace mpilake
