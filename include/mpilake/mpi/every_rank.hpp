#pragma once
// Work between collectives whose failure on one rank must stop all of them alike: spill-file work
// (a full scratch disk, a corrupt block) throws on the rank that met it, and the other ranks would
// wait in the next collective. on_every_rank turns such an error into every rank's ConsistentError.
#include <exception>
#include <string>

#include "mpilake/mpi/comm.hpp"

namespace mpilake {

// Collective: runs `work`; a std::exception it throws on any rank becomes a ConsistentError with the
// lowest such rank's message on every rank (a ConsistentError passes through as it is: every rank
// throws it already).
template <class Work>
void on_every_rank(const Comm& comm, Work&& work) {
  std::string error;
  try {
    work();
  } catch (const ConsistentError&) {
    throw;
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "unknown error";
  }
  comm.throw_if_any(error);
}

}  // namespace mpilake
