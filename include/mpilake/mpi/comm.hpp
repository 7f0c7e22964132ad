#pragma once
// A thin, checked view of an MPI communicator. Every MPI call in the engine goes through `check`,
// which turns a failing return code into an exception naming the call.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpilake {

class MpiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An error raised on every rank alike (e.g. after a broadcast), so the job can stop cleanly
// without MPI_Abort.
class ConsistentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws MpiError("<what>: <MPI error string>") unless `code` is MPI_SUCCESS.
void check_mpi(int code, std::string_view what);

// Narrows a 64-bit count to the `int` MPI needs; throws instead of wrapping.
inline int checked_int(std::int64_t value, std::string_view what) {
  if (value < 0 || value > std::numeric_limits<int>::max())
    throw MpiError(std::string(what) + ": count " + std::to_string(value) + " does not fit an MPI int");
  return static_cast<int>(value);
}

class Comm {
 public:
  explicit Comm(MPI_Comm comm);
  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  void barrier() const;
  std::int64_t allreduce_sum(std::int64_t value) const;
  std::int64_t allreduce_max(std::int64_t value) const;
  double allreduce_max(double value) const;
  std::vector<std::int64_t> allreduce_sum(const std::vector<std::int64_t>& values) const;
  // Element-wise maximum over the ranks, in place (every rank passes the same length).
  void allreduce_max_in_place(std::vector<std::int64_t>& values) const;
  // Sum of `value` over the ranks below this one (0 on rank 0).
  std::int64_t exscan_sum(std::int64_t value) const;
  // Every rank gets rank `root`'s string.
  std::string broadcast(const std::string& value_on_root, int root = 0) const;
  // Collective: if any rank passes a non-empty message, every rank throws ConsistentError with the
  // message of the lowest such rank (one clear error instead of one per rank).
  void throw_if_any(const std::string& local_error) const;
  // Rank 0 gets one string per rank, in rank order; other ranks get an empty vector.
  std::vector<std::string> gather_to_root(const std::string& value) const;
  // Every rank gets one string per rank, in rank order.
  std::vector<std::string> all_gather(const std::string& value) const;
  // Runs `action` on rank 0 only; if it throws, every rank throws std::runtime_error with its message
  // (so a failure on rank 0 never leaves the other ranks waiting in a later collective).
  void on_root(const std::function<void()>& action) const;

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace mpilake
