#pragma once
// The dashboard's data (GET /live): the run's current ride (its readings, totals, the rider's
// gender, age band and personal bests; first name and safe heart-rate range only when personal) and
// the last 12 hours before the run's latest time. Rendered once per snapshot.
#include <string>

#include "mpilake/serve/snapshot.hpp"

namespace mpilake::serve {

std::string render_live(const Snapshot& snapshot, bool personal);

}  // namespace mpilake::serve
