#include "mpilake/shuffle/key_scan.hpp"

#include <map>
#include <stdexcept>
#include <string_view>

#include "mpilake/table/row_codec.hpp"

namespace mpilake {

namespace {

const Schema kWindowSchema = {{"key", ColumnType::String}, {"value", ColumnType::Int64}};
// Point-to-point tag of the scan's messages (collectives never match point-to-point messages).
constexpr int kScanTag = 0x6b73;

std::string encode_window(const std::map<std::string, std::int64_t, std::less<>>& window) {
  Table table(kWindowSchema);
  for (const auto& [key, value] : window) {
    table.strings(0).push_back(key);
    table.ints(1).push_back(value);
    table.commit_row();
  }
  return encode_rows(table);
}

// Sends `bytes` to `destination` and returns what `source` sent (either may be MPI_PROC_NULL: then
// nothing is sent, or an empty string comes back).
std::string shift_bytes(const Comm& comm, const std::string& bytes, int destination, int source) {
  std::int64_t length = static_cast<std::int64_t>(bytes.size());
  std::int64_t incoming = 0;
  check_mpi(MPI_Sendrecv(&length, 1, MPI_INT64_T, destination, kScanTag, &incoming, 1, MPI_INT64_T, source, kScanTag,
                         comm.get(), MPI_STATUS_IGNORE),
            "MPI_Sendrecv(key scan length)");
  if (source == MPI_PROC_NULL) incoming = 0;
  std::string received(static_cast<std::size_t>(incoming), '\0');
  check_mpi(MPI_Sendrecv(bytes.data(), checked_int(length, "key scan send"), MPI_CHAR, destination, kScanTag,
                         received.data(), checked_int(incoming, "key scan receive"), MPI_CHAR, source, kScanTag,
                         comm.get(), MPI_STATUS_IGNORE),
            "MPI_Sendrecv(key scan bytes)");
  return received;
}

}  // namespace

std::vector<std::optional<std::int64_t>> previous_by_key(const Comm& comm, std::span<const KeyedValue> passed,
                                                         std::span<const std::string> asked) {
  // The window: the latest value of every key passed by the ranks the scan has covered so far,
  // this one included (it is what travels up).
  std::map<std::string, std::int64_t, std::less<>> window;
  for (const KeyedValue& entry : passed)
    if (!window.emplace(entry.key, entry.value).second)
      throw std::invalid_argument("previous_by_key: key passed twice: " + entry.key);
  std::map<std::string_view, std::size_t> asked_at;
  for (std::size_t i = 0; i < asked.size(); ++i)
    if (!asked_at.emplace(asked[i], i).second)
      throw std::invalid_argument("previous_by_key: key asked twice: " + asked[i]);

  std::vector<std::optional<std::int64_t>> result(asked.size());
  const int rank = comm.rank();
  const int ranks = comm.size();
  // After the round at distance d, the window covers ranks r - 2d + 1 ... r and the results cover
  // r - 2d + 1 ... r - 1. What arrives covers strictly lower ranks than both already hold, so a key
  // already present keeps its value (the nearer rank wins).
  for (std::int64_t d = 1; d < ranks; d *= 2) {
    const bool sends = rank + d < ranks;
    const bool receives = rank - d >= 0;
    const std::string bytes = shift_bytes(comm, sends ? encode_window(window) : std::string(),
                                          sends ? static_cast<int>(rank + d) : MPI_PROC_NULL,
                                          receives ? static_cast<int>(rank - d) : MPI_PROC_NULL);
    if (!receives) continue;
    Table lower(kWindowSchema);
    decode_rows(lower, bytes);
    for (std::size_t row = 0; row < lower.num_rows(); ++row) {
      const std::string_view key = lower.strings(0)[row];
      const std::int64_t value = lower.ints(1)[row];
      if (const auto at = asked_at.find(key); at != asked_at.end() && !result[at->second]) result[at->second] = value;
      if (sends) window.emplace(std::string(key), value);  // a rank that sends no more needs no window
    }
  }
  return result;
}

std::vector<std::optional<std::int64_t>> previous_by_key(const Comm& comm, std::span<const KeyedValue> passed) {
  std::vector<std::string> asked;
  asked.reserve(passed.size());
  for (const KeyedValue& entry : passed) asked.push_back(entry.key);
  return previous_by_key(comm, passed, asked);
}

}  // namespace mpilake
