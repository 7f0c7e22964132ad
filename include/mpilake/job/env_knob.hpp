#pragma once
// Test knobs from the environment (e.g. MPILAKE_STEDI_PASS_ROWS): they force a code path that a run
// would otherwise take only on large inputs, so that tests reach it with small ones.
#include <cstdint>

namespace mpilake::job {

// A whole number of 1 or more from environment variable `name`, or 0 when it is not set. Throws
// ConsistentError naming the variable for anything else (every rank sees the same environment).
std::int64_t env_count(const char* name);

}  // namespace mpilake::job
