#pragma once
// An exclusive lock on an output folder for the length of a run, so two runs into the same --out
// cannot interleave their zones. Rank 0 holds flock() on OUT/.mpilake.lock; the kernel releases it
// when the process ends, however it ends, so a crashed run leaves no stale lock.
#include <filesystem>

#include "mpilake/mpi/comm.hpp"

namespace mpilake {

class OutputLock {
 public:
  // Collective. Throws ConsistentError on every rank when another run holds the lock.
  static OutputLock acquire(const Comm& comm, const std::filesystem::path& folder);
  OutputLock(OutputLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  OutputLock& operator=(OutputLock&&) = delete;
  OutputLock(const OutputLock&) = delete;
  ~OutputLock();

 private:
  explicit OutputLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mpilake
