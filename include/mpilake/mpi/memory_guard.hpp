#pragma once
// How much memory the ranks sharing a node may use, decided before the work starts: a run whose
// in-memory path would not fit takes its budgeted path (docs/spill.md) instead of meeting the kernel's
// OOM killer mid-job.
#include <cstdint>
#include <string>

#include "mpilake/mpi/comm.hpp"

namespace mpilake {

// Bytes this process may still use: MemAvailable from /proc/meminfo, or less when a cgroup (v2 or
// v1, e.g. a Slurm job's --mem) limits it. -1 when neither can be read.
std::int64_t available_memory_bytes();

// How the ranks of each node share its memory.
struct MemoryShare {
  std::int64_t node_limit = -1;  // bytes this rank's node may use (the limit, or what it has): -1 unknown
  int node_ranks = 1;            // ranks on this rank's node
  std::int64_t per_rank = -1;    // node_limit / node_ranks: this rank's budget (-1: none)
  bool fits = true;              // every node's ranks together need no more than its limit (all ranks agree)
};
// Collective. `need_bytes` is this rank's expected in-memory peak; `limit_per_node` the memory the
// ranks of one node may use together (-1: detect with available_memory_bytes() on each node; 0: none,
// then fits and per_rank is -1).
MemoryShare share_node_memory(const Comm& comm, std::int64_t need_bytes, std::int64_t limit_per_node);

// "1.23 GB" or "456 MB": decimal units, for messages.
std::string format_bytes(std::int64_t bytes);

}  // namespace mpilake
