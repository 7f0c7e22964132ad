#include "mpilake/shuffle/exchange.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "mpilake/mpi/fault.hpp"
#include "mpilake/shuffle/column_block.hpp"

namespace mpilake {

namespace {

// One round's share of the rows for one destination.
struct Chunk {
  std::size_t first = 0;  // position in the destination-grouped row order
  std::size_t count = 0;
  std::size_t block_bytes = 0;
};

// The rows this rank keeps for itself skip the encoding: they are copied straight into place.
void copy_local(const Table& rows, std::span<const std::size_t> picked, Table& result, BlockCursor& cursor) {
  std::size_t string_index = 0;
  for (std::size_t c = 0; c < rows.num_columns(); ++c) {
    switch (rows.schema()[c].type) {
      case ColumnType::Int64: {
        std::int64_t* out = result.ints(c).data() + cursor.row;
        for (const std::size_t r : picked) *out++ = rows.ints(c)[r];
        break;
      }
      case ColumnType::Float64: {
        double* out = result.floats(c).data() + cursor.row;
        for (const std::size_t r : picked) *out++ = rows.floats(c)[r];
        break;
      }
      case ColumnType::String: {
        StringColumn& column = result.strings(c);
        std::size_t& at = cursor.text[string_index++];
        std::uint64_t* ends = column.end_offsets() + cursor.row;
        for (const std::size_t r : picked) {
          const std::string_view value = rows.strings(c)[r];
          std::memcpy(column.byte_data() + at, value.data(), value.size());
          at += value.size();
          *ends++ = at;
        }
        break;
      }
    }
  }
  cursor.row += picked.size();
}

}  // namespace

Table exchange_rows(const Comm& comm, const Table& rows, std::span<const int> destination,
                    const ExchangeOptions& options, ExchangeStats* stats) {
  const int ranks = comm.size();
  const auto ranks_n = static_cast<std::size_t>(ranks);
  const auto self = static_cast<std::size_t>(comm.rank());
  if (destination.size() != rows.num_rows()) throw std::invalid_argument("exchange_rows: one destination per row");
  std::vector<std::size_t> string_columns;
  for (std::size_t c = 0; c < rows.num_columns(); ++c)
    if (rows.schema()[c].type == ColumnType::String) string_columns.push_back(c);

  // Group the rows by destination (a stable counting sort), and total what each destination gets:
  // rows, then the string bytes of each string column.
  const std::size_t width = 1 + string_columns.size();
  std::vector<std::int64_t> totals_for(ranks_n * width, 0);
  for (std::size_t r = 0; r < rows.num_rows(); ++r) {
    const int to = destination[r];
    if (to < 0 || to >= ranks) throw std::out_of_range("exchange_rows: destination rank out of range");
    std::int64_t* totals = &totals_for[static_cast<std::size_t>(to) * width];
    ++totals[0];
    for (std::size_t s = 0; s < string_columns.size(); ++s)
      totals[1 + s] += static_cast<std::int64_t>(rows.strings(string_columns[s])[r].size());
  }
  std::vector<std::size_t> group_start(ranks_n + 1, 0);
  for (std::size_t d = 0; d < ranks_n; ++d)
    group_start[d + 1] = group_start[d] + static_cast<std::size_t>(totals_for[d * width]);
  std::vector<std::size_t> order(rows.num_rows());
  {
    std::vector<std::size_t> next(group_start.begin(), group_start.end() - 1);
    for (std::size_t r = 0; r < rows.num_rows(); ++r) order[next[static_cast<std::size_t>(destination[r])]++] = r;
  }

  // Cut each destination's rows into chunks of at most `per_destination` bytes (a single larger row
  // makes a chunk of its own), one chunk per round, so a round's total stays within
  // max_round_bytes on both the sending and the receiving side.
  const std::size_t per_destination =
      static_cast<std::size_t>(std::max<std::int64_t>(1, options.max_round_bytes / ranks));
  const std::size_t fixed_row_bytes = 8 * (rows.num_columns() - string_columns.size()) + 4 * string_columns.size();
  std::vector<std::vector<Chunk>> chunks(ranks_n);
  std::int64_t my_rounds = 0;
  for (std::size_t d = 0; d < ranks_n; ++d) {
    Chunk chunk{group_start[d], 0, 0};
    std::size_t bytes = 0;
    for (std::size_t i = group_start[d]; i < group_start[d + 1]; ++i) {
      std::size_t row_bytes = fixed_row_bytes;
      for (const std::size_t c : string_columns) row_bytes += rows.strings(c)[order[i]].size();
      if (chunk.count > 0 && bytes + row_bytes > per_destination) {
        chunks[d].push_back(chunk);
        chunk = Chunk{i, 0, 0};
        bytes = 0;
      }
      ++chunk.count;
      bytes += row_bytes;
    }
    if (chunk.count > 0) chunks[d].push_back(chunk);
    for (Chunk& c : chunks[d])
      c.block_bytes = d == self ? 0 : column_block_bytes(rows, std::span(order).subspan(c.first, c.count));
    my_rounds = std::max<std::int64_t>(my_rounds, static_cast<std::int64_t>(chunks[d].size()));
  }
  const std::int64_t rounds = comm.allreduce_max(my_rounds);

  // Every rank learns what it will receive, and sizes the result once.
  std::vector<std::int64_t> totals_from(ranks_n * width, 0);
  check_mpi(MPI_Alltoall(totals_for.data(), checked_int(static_cast<std::int64_t>(width), "exchange totals"),
                         MPI_INT64_T, totals_from.data(), static_cast<int>(width), MPI_INT64_T, comm.get()),
            "MPI_Alltoall(exchange totals)");
  Table result(rows.schema());
  std::vector<BlockCursor> cursors(ranks_n);
  std::vector<std::size_t> first_row_from(ranks_n);
  {
    std::size_t total_rows = 0;
    std::vector<std::size_t> total_text(string_columns.size(), 0);
    for (std::size_t s = 0; s < ranks_n; ++s) {
      cursors[s].row = first_row_from[s] = total_rows;
      total_rows += static_cast<std::size_t>(totals_from[s * width]);
      for (std::size_t k = 0; k < string_columns.size(); ++k) {
        cursors[s].text.push_back(total_text[k]);
        total_text[k] += static_cast<std::size_t>(totals_from[s * width + 1 + k]);
      }
    }
    std::size_t string_index = 0;
    for (std::size_t c = 0; c < rows.num_columns(); ++c) {
      switch (rows.schema()[c].type) {
        case ColumnType::Int64: result.ints(c).resize(total_rows); break;
        case ColumnType::Float64: result.floats(c).resize(total_rows); break;
        case ColumnType::String: result.strings(c).resize_for_fill(total_rows, total_text[string_index++]); break;
      }
    }
    result.set_rows_from_columns();
  }

  std::vector<int> send_counts(ranks_n), send_displs(ranks_n), recv_counts(ranks_n), recv_displs(ranks_n);
  std::string send_round, recv_round;
  ExchangeStats local;
  local.rounds = rounds;
  for (std::int64_t round = 0; round < rounds; ++round) {
    const auto has_chunk = [&](std::size_t d) { return static_cast<std::size_t>(round) < chunks[d].size(); };
    std::int64_t send_total = 0;
    for (std::size_t d = 0; d < ranks_n; ++d) {
      const std::int64_t count = has_chunk(d) ? static_cast<std::int64_t>(chunks[d][round].block_bytes) : 0;
      send_counts[d] = checked_int(count, "exchange send count");
      send_displs[d] = checked_int(send_total, "exchange send displacement");
      send_total += count;
    }
    send_round.resize(static_cast<std::size_t>(send_total));
    for (std::size_t d = 0; d < ranks_n; ++d) {
      if (d == self || !has_chunk(d)) continue;
      const Chunk& chunk = chunks[d][round];
      encode_column_block(rows, std::span(order).subspan(chunk.first, chunk.count), send_round.data() + send_displs[d]);
      local.bytes_sent += send_counts[d];
    }
    check_mpi(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm.get()),
              "MPI_Alltoall(exchange counts)");
    std::int64_t recv_total = 0;
    for (std::size_t s = 0; s < ranks_n; ++s) {
      recv_displs[s] = checked_int(recv_total, "exchange receive displacement");
      recv_total += recv_counts[s];
    }
    fault_point("exchange", comm);  // crash tests: die between the count and data exchanges
    recv_round.resize(static_cast<std::size_t>(recv_total));
    check_mpi(MPI_Alltoallv(send_round.data(), send_counts.data(), send_displs.data(), MPI_BYTE, recv_round.data(),
                            recv_counts.data(), recv_displs.data(), MPI_BYTE, comm.get()),
              "MPI_Alltoallv(exchange rows)");
    for (std::size_t s = 0; s < ranks_n; ++s) {
      if (s == self) {
        if (has_chunk(s)) {
          const Chunk& chunk = chunks[s][round];
          copy_local(rows, std::span(order).subspan(chunk.first, chunk.count), result, cursors[s]);
        }
        continue;
      }
      if (recv_counts[s] == 0) continue;
      const char* begin = recv_round.data() + recv_displs[s];
      decode_column_block(begin, begin + recv_counts[s], result, cursors[s]);
      local.bytes_received += recv_counts[s];
    }
    if (options.on_round) options.on_round(round + 1, rounds);
  }
  for (std::size_t s = 0; s < ranks_n; ++s)
    if (cursors[s].row != (s + 1 < ranks_n ? first_row_from[s + 1] : result.num_rows()))
      throw std::runtime_error("exchange_rows: fewer rows arrived than announced");
  if (stats != nullptr) {
    local.calls.push_back(
        {.stage = {}, .bytes_sent = local.bytes_sent, .bytes_received = local.bytes_received, .rounds = local.rounds});
    stats->add(local);
  }
  return result;
}

}  // namespace mpilake
