#pragma once
// A segmented exclusive scan over the ranks, by key: each rank passes a value for some keys (say the
// state of its last row of each key) and learns, for the keys it asks about, the value passed by the
// nearest lower rank that passed that key. This is how a stream cut into contiguous rank ranges
// carries per-key state across rank boundaries (e.g. "which lower rank holds the open group of
// this key"), without gathering the ranks' key lists anywhere.
//
// Cost: a log-P doubling scan. In round j (distance d = 2^j, ceil(log2 P) rounds) rank r sends to
// rank r + d the latest value of every key passed by ranks r - 2d + 1 ... r, and receives the same
// from rank r - d, with two MPI_Sendrecv (length, then bytes). So a rank holds and sends at most the
// distinct keys passed anywhere (K), never P × K: O(K log P) bytes per rank in all, in O(log P)
// latency steps. Meant for dimension-sized key sets (thousands of keys), not for fact rows.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mpilake/mpi/comm.hpp"

namespace mpilake {

struct KeyedValue {
  std::string key;
  std::int64_t value = 0;
};

// Collective: every rank calls it (with any number of keys, zero included). `passed` holds distinct
// keys; `asked` holds distinct keys, which need not be among `passed`. Result i is the value that the
// nearest rank below this one passed for asked[i] (a rank never sees its own value), or std::nullopt
// when no lower rank passed that key. Throws std::invalid_argument on a repeated key (before any
// communication, on the rank that has it).
std::vector<std::optional<std::int64_t>> previous_by_key(const Comm& comm, std::span<const KeyedValue> passed,
                                                         std::span<const std::string> asked);

// The same, asking about exactly the keys passed: result i belongs to passed[i].
std::vector<std::optional<std::int64_t>> previous_by_key(const Comm& comm, std::span<const KeyedValue> passed);

}  // namespace mpilake
