#include "mpilake/shuffle/exchange.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "mpilake/mpi/fault.hpp"
#include "mpilake/table/row_codec.hpp"

namespace mpilake {

Table exchange_rows(const Comm& comm, const Table& rows, std::span<const int> destination,
                    const ExchangeOptions& options, ExchangeStats* stats) {
  const int ranks = comm.size();
  if (destination.size() != rows.num_rows()) throw std::invalid_argument("exchange_rows: one destination per row");

  // Encode rows grouped by destination: sizes first, then fill in place.
  std::vector<std::int64_t> bytes_for(static_cast<std::size_t>(ranks), 0);
  std::vector<std::size_t> row_size(rows.num_rows());
  for (std::size_t r = 0; r < rows.num_rows(); ++r) {
    const int to = destination[r];
    if (to < 0 || to >= ranks) throw std::out_of_range("exchange_rows: destination rank out of range");
    row_size[r] = encoded_row_size(rows, r);
    bytes_for[static_cast<std::size_t>(to)] += static_cast<std::int64_t>(row_size[r]);
  }
  std::vector<std::int64_t> start_of(static_cast<std::size_t>(ranks) + 1, 0);
  for (int d = 0; d < ranks; ++d) start_of[d + 1] = start_of[d] + bytes_for[d];
  std::string send(static_cast<std::size_t>(start_of[ranks]), '\0');
  {
    std::vector<std::int64_t> cursor(start_of.begin(), start_of.end() - 1);
    for (std::size_t r = 0; r < rows.num_rows(); ++r) {
      auto& at = cursor[static_cast<std::size_t>(destination[r])];
      encode_row(rows, r, send.data() + at);
      at += static_cast<std::int64_t>(row_size[r]);
    }
  }

  // Each round sends at most `per_destination` bytes to each rank, so a round's total stays within
  // max_round_bytes on both the sending and the receiving side.
  const std::int64_t per_destination = std::max<std::int64_t>(1, options.max_round_bytes / ranks);
  const std::int64_t largest = *std::max_element(bytes_for.begin(), bytes_for.end());
  const std::int64_t rounds = comm.allreduce_max((largest + per_destination - 1) / per_destination);

  std::vector<std::string> received(static_cast<std::size_t>(ranks));
  std::vector<std::int64_t> sent_so_far(static_cast<std::size_t>(ranks), 0);
  std::vector<int> send_counts(static_cast<std::size_t>(ranks)), send_displs(static_cast<std::size_t>(ranks));
  std::vector<int> recv_counts(static_cast<std::size_t>(ranks)), recv_displs(static_cast<std::size_t>(ranks));
  std::string send_round, recv_round;
  ExchangeStats local;
  local.rounds = rounds;
  for (std::int64_t round = 0; round < rounds; ++round) {
    std::int64_t send_total = 0;
    for (int d = 0; d < ranks; ++d) {
      const std::int64_t count = std::min(per_destination, bytes_for[d] - sent_so_far[d]);
      send_counts[d] = checked_int(count, "exchange send count");
      send_displs[d] = checked_int(send_total, "exchange send displacement");
      send_total += count;
    }
    send_round.resize(static_cast<std::size_t>(send_total));
    for (int d = 0; d < ranks; ++d) {
      std::copy_n(send.data() + start_of[d] + sent_so_far[d], send_counts[d], send_round.data() + send_displs[d]);
      sent_so_far[d] += send_counts[d];
      if (d != comm.rank()) local.bytes_sent += send_counts[d];
    }
    check_mpi(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm.get()),
              "MPI_Alltoall(exchange counts)");
    std::int64_t recv_total = 0;
    for (int s = 0; s < ranks; ++s) {
      recv_displs[s] = checked_int(recv_total, "exchange receive displacement");
      recv_total += recv_counts[s];
    }
    fault_point("exchange", comm);  // crash tests: die between the count and data exchanges
    recv_round.resize(static_cast<std::size_t>(recv_total));
    check_mpi(MPI_Alltoallv(send_round.data(), send_counts.data(), send_displs.data(), MPI_BYTE, recv_round.data(),
                            recv_counts.data(), recv_displs.data(), MPI_BYTE, comm.get()),
              "MPI_Alltoallv(exchange rows)");
    for (int s = 0; s < ranks; ++s) {
      received[s].append(recv_round.data() + recv_displs[s], static_cast<std::size_t>(recv_counts[s]));
      if (s != comm.rank()) local.bytes_received += recv_counts[s];
    }
  }
  send.clear();
  send.shrink_to_fit();

  Table result(rows.schema());
  for (auto& bytes : received) {
    decode_rows(result, bytes);
    bytes.clear();
    bytes.shrink_to_fit();
  }
  if (stats != nullptr) stats->add(local);
  return result;
}

}  // namespace mpilake
