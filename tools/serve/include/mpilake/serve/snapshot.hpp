#pragma once
// One finished Deloton run's zones, loaded whole into memory with the indexes the API needs. A
// Snapshot never changes once loaded: the server swaps in a new one when a new run finishes, and
// every request reads exactly one, so no response mixes two runs.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "mpilake/serve/dates.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake::serve {

// The run folder cannot be loaded (missing zone, zones of another run, a run still being written).
class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What identifies a file's current version without reading it (a rename gives a new inode).
struct FileStamp {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
FileStamp stamp_of(const std::filesystem::path& path);

inline constexpr std::int64_t kLiveWindowMicros = 12LL * 3600 * 1'000'000;  // the dashboard's "last 12 hours"

struct Snapshot {
  std::filesystem::path dir;
  std::string run_id;       // created_utc + a hash of summary.json: differs for every run
  std::string created_utc;  // the run's, from summary.json (every zone carries the same)
  std::string loaded_utc;   // when this server loaded it
  FileStamp summary_stamp;  // summary.json as loaded
  nlohmann::json summary;

  Table riders, rides, readings, alerts, daily;
  std::vector<std::int64_t> ride_offset;  // readings of rides row k: ride_offset[k] .. ride_offset[k+1]-1

  std::unordered_map<std::int64_t, std::size_t> rider_row;                    // user_id -> riders row
  std::unordered_map<std::int64_t, std::vector<std::size_t>> rides_of_rider;  // user_id -> rides rows
  std::int64_t latest_time = kNullInt64;  // the run's latest ride start or reading time ("now" of the data)
  std::int64_t current_ride_row = -1;     // the latest ride (the dashboard's current ride), -1 if none

  // Pre-rendered bodies: /live (public, and with the token's personal fields), each ride's
  // /rides/{id} and each day's /daily?date= (the hot paths: a lookup and a copy per request).
  std::string live_public, live_personal;
  std::vector<std::string> ride_bodies, daily_bodies;

  std::size_t memory_bytes = 0;  // the zones' payload in memory

  // Row lookups: -1 when absent.
  std::int64_t ride_row(std::int64_t ride_id) const;
  std::int64_t alert_row_of_ride(std::int64_t ride_id) const;
  std::int64_t daily_row(const std::string& date) const;
  // Rides rows [first, last) whose start_time falls on UTC day `day` (days since 1970-01-01).
  std::pair<std::size_t, std::size_t> rides_on_day(std::int64_t day) const;
  // Alerts rows [first, last) of the rides rows [first_ride, last_ride).
  std::pair<std::size_t, std::size_t> alerts_of_rides(std::size_t first_ride, std::size_t last_ride) const;
};

// Loads DIR's Deloton zones and summary.json. Throws LoadError when a zone is missing or unreadable,
// when the zones are not all of the run summary.json describes (a run in progress), or when
// summary.json changed while loading.
std::shared_ptr<const Snapshot> load_snapshot(const std::filesystem::path& dir);

// Builds the indexes, latest time and /live bodies from the tables and ride_offset (load_snapshot
// calls it; tests build snapshots in memory). Throws LoadError when the tables are not sorted.
void index_snapshot(Snapshot& snapshot);

}  // namespace mpilake::serve
