#pragma once
// A check before the work starts that the ranks sharing a node will fit in its memory, so an
// oversized run stops with a clear error instead of meeting the kernel's OOM killer mid-job.
#include <cstdint>
#include <string>

#include "mpilake/mpi/comm.hpp"

namespace mpilake {

// Bytes this process may still use: MemAvailable from /proc/meminfo, or less when a cgroup (v2 or
// v1, e.g. a Slurm job's --mem) limits it. -1 when neither can be read.
std::int64_t available_memory_bytes();

// Collective. `need_bytes` is this rank's expected peak; `limit_per_node` the memory the ranks of
// one node may use together (-1: detect with available_memory_bytes() on each node; 0: no check).
// Throws ConsistentError on every rank when any node's ranks need more than its limit; the message
// names the node and says how to proceed.
void check_memory_fits(const Comm& comm, std::int64_t need_bytes, std::int64_t limit_per_node,
                       const std::string& need_detail);

// How the ranks of each node share its memory: what a pipeline with a spill path (one that can run
// under a budget) uses in place of check_memory_fits.
struct MemoryShare {
  std::int64_t node_limit = -1;  // bytes this rank's node may use (the limit, or what it has): -1 unknown
  int node_ranks = 1;            // ranks on this rank's node
  std::int64_t per_rank = -1;    // node_limit / node_ranks: this rank's budget (-1: none)
  bool fits = true;              // every node's ranks together need no more than its limit (all ranks agree)
};
// Collective. `need_bytes` is this rank's expected in-memory peak; `limit_per_node` as for
// check_memory_fits (-1 detect, 0 none: then fits and per_rank is -1).
MemoryShare share_node_memory(const Comm& comm, std::int64_t need_bytes, std::int64_t limit_per_node);

// "1.23 GB" or "456 MB": decimal units, for messages.
std::string format_bytes(std::int64_t bytes);

}  // namespace mpilake
