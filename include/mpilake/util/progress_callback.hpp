#pragma once
// How a long engine operation reports how far it got, without knowing who listens: the job's
// progress line (job/progress.hpp) passes one in; an empty callback costs nothing.
#include <cstdint>
#include <functional>

namespace mpilake {

// `done` of `total` units (bytes read, columns written, rounds exchanged) on this rank.
using ProgressCallback = std::function<void(std::int64_t done, std::int64_t total)>;

}  // namespace mpilake
