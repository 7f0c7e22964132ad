#include "mpilake/mpi/comm.hpp"

#include <algorithm>
#include <numeric>

namespace mpilake {

void check_mpi(int code, std::string_view what) {
  if (code == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, message, &length);
  throw MpiError(std::string(what) + ": " + std::string(message, static_cast<std::size_t>(length)));
}

Comm::Comm(MPI_Comm comm) : comm_(comm) {
  // Errors come back as return codes (and become exceptions) instead of aborting inside MPI.
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

void Comm::barrier() const {
  check_mpi(MPI_Barrier(comm_), "MPI_Barrier");
}

std::int64_t Comm::allreduce_sum(std::int64_t value) const {
  std::int64_t result = 0;
  check_mpi(MPI_Allreduce(&value, &result, 1, MPI_INT64_T, MPI_SUM, comm_), "MPI_Allreduce(sum)");
  return result;
}

std::int64_t Comm::allreduce_max(std::int64_t value) const {
  std::int64_t result = 0;
  check_mpi(MPI_Allreduce(&value, &result, 1, MPI_INT64_T, MPI_MAX, comm_), "MPI_Allreduce(max)");
  return result;
}

double Comm::allreduce_max(double value) const {
  double result = 0;
  check_mpi(MPI_Allreduce(&value, &result, 1, MPI_DOUBLE, MPI_MAX, comm_), "MPI_Allreduce(max)");
  return result;
}

std::vector<std::int64_t> Comm::allreduce_sum(const std::vector<std::int64_t>& values) const {
  std::vector<std::int64_t> result(values.size());
  check_mpi(
      MPI_Allreduce(values.data(), result.data(), checked_int(static_cast<std::int64_t>(values.size()), "allreduce"),
                    MPI_INT64_T, MPI_SUM, comm_),
      "MPI_Allreduce(sum vector)");
  return result;
}

std::int64_t Comm::exscan_sum(std::int64_t value) const {
  std::int64_t result = 0;
  check_mpi(MPI_Exscan(&value, &result, 1, MPI_INT64_T, MPI_SUM, comm_), "MPI_Exscan");
  return rank_ == 0 ? 0 : result;  // MPI leaves rank 0's result undefined
}

std::string Comm::broadcast(const std::string& value_on_root, int root) const {
  std::int64_t length = static_cast<std::int64_t>(value_on_root.size());
  check_mpi(MPI_Bcast(&length, 1, MPI_INT64_T, root, comm_), "MPI_Bcast(length)");
  std::string result = rank_ == root ? value_on_root : std::string(static_cast<std::size_t>(length), '\0');
  check_mpi(MPI_Bcast(result.data(), checked_int(length, "broadcast"), MPI_CHAR, root, comm_), "MPI_Bcast(data)");
  return result;
}

void Comm::throw_if_any(const std::string& local_error) const {
  const int mine = local_error.empty() ? size_ : rank_;
  int first = size_;
  check_mpi(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce(error rank)");
  if (first == size_) return;
  throw ConsistentError(broadcast(local_error, first));
}

namespace {

// Gathers every rank's string to `root` (all ranks when root < 0), as one buffer and then split.
std::vector<std::string> gather_strings(MPI_Comm comm, int rank, int size, const std::string& value, int root) {
  const bool receives = root < 0 || rank == root;
  const int length = checked_int(static_cast<std::int64_t>(value.size()), "gather");
  std::vector<int> lengths(receives ? static_cast<std::size_t>(size) : 0);
  if (root < 0)
    check_mpi(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, comm), "MPI_Allgather(lengths)");
  else
    check_mpi(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, comm), "MPI_Gather(lengths)");
  std::vector<int> displacements(lengths.size());
  std::int64_t total = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    displacements[i] = checked_int(total, "gather displacement");
    total += lengths[i];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  if (root < 0)
    check_mpi(MPI_Allgatherv(value.data(), length, MPI_CHAR, all.data(), lengths.data(), displacements.data(), MPI_CHAR,
                             comm),
              "MPI_Allgatherv");
  else
    check_mpi(MPI_Gatherv(value.data(), length, MPI_CHAR, all.data(), lengths.data(), displacements.data(), MPI_CHAR,
                          root, comm),
              "MPI_Gatherv");
  std::vector<std::string> result;
  for (std::size_t i = 0; i < lengths.size(); ++i)
    result.push_back(all.substr(static_cast<std::size_t>(displacements[i]), static_cast<std::size_t>(lengths[i])));
  return result;
}

}  // namespace

std::vector<std::string> Comm::gather_to_root(const std::string& value) const {
  return gather_strings(comm_, rank_, size_, value, 0);
}

std::vector<std::string> Comm::all_gather(const std::string& value) const {
  return gather_strings(comm_, rank_, size_, value, -1);
}

void Comm::allreduce_max_in_place(std::vector<std::int64_t>& values) const {
  // In slices, so a long vector never passes the int count MPI takes.
  constexpr std::size_t kSlice = std::size_t{1} << 28;
  for (std::size_t at = 0; at < values.size(); at += kSlice) {
    const auto count = static_cast<int>(std::min(kSlice, values.size() - at));
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data() + at, count, MPI_INT64_T, MPI_MAX, comm_),
              "MPI_Allreduce(max, in place)");
  }
}

void Comm::on_root(const std::function<void()>& action) const {
  std::string error;
  if (is_root()) {
    try {
      action();
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error on rank 0";
    }
  }
  error = broadcast(error);
  if (!error.empty()) throw ConsistentError(error);
}

}  // namespace mpilake
