#pragma once
// Replication of a small table (a dimension such as the customers) to every rank, so fact rows can
// be filtered where they were parsed instead of being shuffled to meet it.
#include "mpilake/mpi/comm.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

// Collective: every rank gets the rows of every rank, in rank order (each rank's rows in its order).
Table replicate_rows(const Comm& comm, const Table& rows);

}  // namespace mpilake
