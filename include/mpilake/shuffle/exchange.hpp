#pragma once
// All-to-all exchange of table rows: each row goes to the rank its destination names. Rows are
// encoded per destination in columnar blocks and moved with MPI_Alltoallv in bounded rounds, so no
// round's counts or displacements pass the int range (Boost.MPI's all_to_all would overflow silently
// there). Rows a rank keeps for itself are copied, not encoded.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mpilake/mpi/comm.hpp"
#include "mpilake/table/table.hpp"
#include "mpilake/util/progress_callback.hpp"

namespace mpilake {

struct ExchangeOptions {
  // Bytes one rank sends (and receives) per round, all destinations together.
  std::int64_t max_round_bytes = std::int64_t{256} << 20;
  ProgressCallback on_round;  // after each round: rounds done, rounds in all
};

// One exchange_rows call on this rank. Every rank makes the same calls in the same order, so the
// i-th call of each rank is the same exchange.
struct ExchangeCall {
  std::string stage;                // the job stage it ran in (empty until the job names it)
  std::int64_t bytes_sent = 0;      // to other ranks (bytes a rank keeps for itself are not counted)
  std::int64_t bytes_received = 0;  // from other ranks
  std::int64_t rounds = 0;
};

struct ExchangeStats {
  std::int64_t bytes_sent = 0;      // to other ranks (bytes a rank keeps for itself are not counted)
  std::int64_t bytes_received = 0;  // from other ranks
  std::int64_t rounds = 0;
  std::vector<ExchangeCall> calls;  // each exchange on its own, in call order
  void add(const ExchangeStats& other) {
    bytes_sent += other.bytes_sent;
    bytes_received += other.bytes_received;
    rounds += other.rounds;
    calls.insert(calls.end(), other.calls.begin(), other.calls.end());
  }
};

// Collective: every rank calls it. `destination[i]` is the rank that receives row i. The result holds
// the rows sent here, grouped by sending rank in rank order, each group in the sender's row order.
Table exchange_rows(const Comm& comm, const Table& rows, std::span<const int> destination,
                    const ExchangeOptions& options, ExchangeStats* stats = nullptr);

}  // namespace mpilake
