#include "mpilake/mpi/memory_guard.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>

namespace mpilake {

namespace {

// The first number in `path` (cgroup files hold "max" when unlimited: then -1).
std::int64_t read_number(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return -1;
  try {
    return std::stoll(text);
  } catch (...) {
    return -1;
  }
}

std::int64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  std::int64_t value = 0;
  while (in >> key >> value >> unit)
    if (key == "MemAvailable:") return value * 1024;
  return -1;
}

}  // namespace

std::int64_t available_memory_bytes() {
  std::int64_t available = mem_available();
  const auto tighten = [&](std::int64_t limit, std::int64_t used) {
    // cgroup v1 reports "no limit" as a huge number.
    if (limit <= 0 || limit >= (std::int64_t{1} << 60) || used < 0) return;
    const std::int64_t left = std::max<std::int64_t>(0, limit - used);
    available = available < 0 ? left : std::min(available, left);
  };
  tighten(read_number("/sys/fs/cgroup/memory.max"), read_number("/sys/fs/cgroup/memory.current"));
  tighten(read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
          read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes"));
  return available;
}

std::string format_bytes(std::int64_t bytes) {
  char text[32];
  if (bytes < 1000000000)
    std::snprintf(text, sizeof text, "%.0f MB", static_cast<double>(bytes) / 1e6);
  else
    std::snprintf(text, sizeof text, "%.2f GB", static_cast<double>(bytes) / 1e9);
  return text;
}

MemoryShare share_node_memory(const Comm& comm, std::int64_t need_bytes, std::int64_t limit_per_node) {
  MemoryShare share;
  if (limit_per_node == 0) return share;
  MPI_Comm node_comm = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(comm.get(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node_comm),
            "MPI_Comm_split_type(shared)");
  std::int64_t node_need = 0;
  try {
    const Comm node(node_comm);
    node_need = node.allreduce_sum(need_bytes);
    share.node_ranks = node.size();
    share.node_limit = limit_per_node;
    if (share.node_limit < 0)
      share.node_limit = std::stoll(node.broadcast(node.is_root() ? std::to_string(available_memory_bytes()) : ""));
  } catch (...) {
    MPI_Comm_free(&node_comm);
    throw;
  }
  MPI_Comm_free(&node_comm);
  if (share.node_limit >= 0) share.per_rank = share.node_limit / share.node_ranks;
  const std::int64_t over = share.node_limit >= 0 && node_need > share.node_limit ? 1 : 0;
  share.fits = comm.allreduce_max(over) == 0;
  return share;
}

}  // namespace mpilake
