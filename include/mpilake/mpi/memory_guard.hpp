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

// "1.23 GB" or "456 MB": decimal units, for messages.
std::string format_bytes(std::int64_t bytes);

}  // namespace mpilake
