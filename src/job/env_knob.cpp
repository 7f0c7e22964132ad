#include "mpilake/job/env_knob.hpp"

#include <cstdlib>
#include <string>

#include "mpilake/mpi/comm.hpp"

namespace mpilake::job {

std::int64_t env_count(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr) return 0;
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || value < 1)
    throw ConsistentError(std::string(name) + " must be a whole number of 1 or more (got '" + text + "')");
  return value;
}

}  // namespace mpilake::job
