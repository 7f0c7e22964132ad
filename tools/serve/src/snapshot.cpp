#include "mpilake/serve/snapshot.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "mpilake/deloton/schema.hpp"
#include "mpilake/h5/handle.hpp"
#include "mpilake/h5/zone_reader.hpp"
#include "mpilake/job/job.hpp"
#include "mpilake/serve/live.hpp"
#include "mpilake/serve/views.hpp"
#include "mpilake/tools/run_folder.hpp"

namespace mpilake::serve {

namespace fs = std::filesystem;

FileStamp stamp_of(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  return {true, info.st_dev, info.st_ino, static_cast<std::int64_t>(info.st_size),
          static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

namespace {

std::string hash_text(std::string_view bytes) {  // FNV-1a, 64 bits: names a run, guards nothing
  std::uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ULL;
  char text[24];
  std::snprintf(text, sizeof text, "%012" PRIx64, static_cast<std::uint64_t>(hash & 0xffffffffffffULL));
  return text;
}

// The run-folder reader's findings in the words of serve (logged while the old run stays served).
std::string serve_message(const fs::path& dir, const tools::RunFolderError& e) {
  using Kind = tools::RunFolderError::Kind;
  switch (e.kind) {
    case Kind::no_folder:
    case Kind::not_a_folder:
    case Kind::no_summary: return "no summary.json in " + dir.string() + " (no finished run yet?)";
    case Kind::unreadable_summary: return "cannot read " + (dir / "summary.json").string();
    case Kind::invalid_summary: return "summary.json is not valid JSON (being written?)";
    case Kind::not_an_object:
    case Kind::wrong_pipeline:
      return "summary.json is not a Deloton run's (serve follows `mpilake run --pipeline deloton` outputs)";
    case Kind::zone_of_other_run:
      return e.subject + ".h5 is not of the run summary.json describes (a run in progress?)";
    case Kind::zone_rows_differ: return e.subject + ".h5 row count differs from summary.json";
    default: return e.what();
  }
}

std::vector<std::int64_t> read_ride_offset(const fs::path& path, std::int64_t expected) {
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "open " + path.string());
  H5Handle dataset(H5Dopen2(file.get(), "ride_offset", H5P_DEFAULT), H5Dclose, "open ride_offset");
  H5Handle space(H5Dget_space(dataset.get()), H5Sclose, "space of ride_offset");
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count != expected)
    throw LoadError("readings.h5: ride_offset has " + std::to_string(count) + " values, expected " +
                    std::to_string(expected));
  std::vector<std::int64_t> values(static_cast<std::size_t>(count));
  check_h5(H5Dread(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "read ride_offset");
  return values;
}

}  // namespace

std::shared_ptr<const Snapshot> load_snapshot(const fs::path& dir) {
  auto snapshot = std::make_shared<Snapshot>();
  Snapshot& s = *snapshot;
  s.dir = dir;
  const fs::path summary_path = dir / "summary.json";
  s.summary_stamp = stamp_of(summary_path);
  if (!s.summary_stamp.exists) throw LoadError("no summary.json in " + dir.string() + " (no finished run yet?)");
  tools::RunSummary summary;
  try {
    summary = tools::read_summary(dir);
    tools::require_pipeline(summary, "deloton");
  } catch (const tools::RunFolderError& e) {
    throw LoadError(serve_message(dir, e));
  }
  s.summary = summary.json;
  s.created_utc = summary.created_utc;
  s.run_id = s.created_utc + "-" + hash_text(summary.text);

  const Schema schemas[] = {deloton::riders_schema(), deloton::rides_schema(), deloton::readings_schema(),
                            deloton::alerts_schema(), deloton::daily_schema()};
  Table* tables[] = {&s.riders, &s.rides, &s.readings, &s.alerts, &s.daily};
  silence_hdf5_errors();
  for (std::size_t z = 0; z < deloton::kZones.size(); ++z) {
    const std::string& zone = deloton::kZones[z];
    const fs::path path = dir / (zone + ".h5");
    ZoneFile file;
    const FileStamp before = stamp_of(path);
    // A run renames all its zones into place, then writes summary.json: a zone written after it is
    // of the next run, still being written (created_utc alone has one-second steps).
    if (before.exists && before.mtime_ns > s.summary_stamp.mtime_ns)
      throw LoadError(zone + ".h5 is newer than summary.json (a run in progress?)");
    try {
      file = read_zone(path);
    } catch (const std::exception& e) {
      throw LoadError(zone + ".h5: " + e.what());
    }
    if (stamp_of(path) != before) throw LoadError(zone + ".h5 was replaced while loading (a new run)");
    try {
      tools::check_zone_of_run(summary, zone, file, {.created_utc = true, .rows = true});
    } catch (const tools::RunFolderError& e) {
      throw LoadError(serve_message(dir, e));
    }
    if (!same_schema(file.table.schema(), schemas[z])) throw LoadError(zone + ".h5 has unexpected columns");
    *tables[z] = std::move(file.table);
  }
  try {
    s.ride_offset = read_ride_offset(dir / "readings.h5", static_cast<std::int64_t>(s.rides.num_rows()) + 1);
  } catch (const H5Error& e) {
    throw LoadError(std::string("readings.h5: ") + e.what());
  }
  if (stamp_of(summary_path) != s.summary_stamp) throw LoadError("summary.json changed while loading (a new run)");

  index_snapshot(s);
  return snapshot;
}

void index_snapshot(Snapshot& s) {
  // The indexes, and the checks the lookups rely on (sorted keys).
  namespace R = deloton::rides;
  const auto& ride_ids = s.rides.ints(R::kRideId);
  const auto& starts = s.rides.ints(R::kStartTime);
  const auto& ends = s.rides.ints(R::kEndTime);
  const auto& users = s.rides.ints(R::kUserId);
  for (std::size_t row = 0; row < ride_ids.size(); ++row) {
    if (row > 0 && (ride_ids[row] <= ride_ids[row - 1] || starts[row] < starts[row - 1]))
      throw LoadError("rides.h5 is not sorted by ride_id and start_time");
    if (users[row] != kNullInt64) s.rides_of_rider[users[row]].push_back(row);
    s.latest_time = std::max({s.latest_time, starts[row], ends[row]});
  }
  if (!ride_ids.empty()) s.current_ride_row = static_cast<std::int64_t>(ride_ids.size()) - 1;
  const std::int64_t reading_count = static_cast<std::int64_t>(s.readings.num_rows());
  if (s.ride_offset.size() != ride_ids.size() + 1) throw LoadError("readings.h5: ride_offset is not rides + 1 long");
  for (std::size_t k = 0; k + 1 < s.ride_offset.size(); ++k)
    if (s.ride_offset[k] > s.ride_offset[k + 1]) throw LoadError("readings.h5: ride_offset is not ascending");
  if (s.ride_offset.front() != 0 || s.ride_offset.back() != reading_count)
    throw LoadError("readings.h5: ride_offset does not cover the readings");
  const auto& user_ids = s.riders.ints(deloton::riders::kUserId);
  for (std::size_t row = 0; row < user_ids.size(); ++row) s.rider_row[user_ids[row]] = row;
  const auto& alert_rides = s.alerts.ints(deloton::alerts::kRideId);
  if (!std::is_sorted(alert_rides.begin(), alert_rides.end())) throw LoadError("heart_rate_alerts.h5 is not sorted");
  const auto& dates = s.daily.strings(deloton::daily::kDate);
  for (std::size_t row = 1; row < dates.size(); ++row)
    if (!(dates[row - 1] < dates[row])) throw LoadError("daily.h5 is not sorted by date");

  for (const Table* table : {&s.riders, &s.rides, &s.readings, &s.alerts, &s.daily})
    s.memory_bytes += table->byte_size();
  s.memory_bytes += s.ride_offset.size() * sizeof(std::int64_t);
  s.loaded_utc = job::utc_now();
  s.live_public = render_live(s, false);
  s.live_personal = render_live(s, true);
  s.ride_bodies.reserve(s.rides.num_rows());
  for (std::size_t row = 0; row < s.rides.num_rows(); ++row) s.ride_bodies.push_back(dump_json(ride_json(s, row)));
  for (std::size_t row = 0; row < s.daily.num_rows(); ++row) s.daily_bodies.push_back(dump_json(daily_json(s, row)));
  for (const auto* bodies : {&s.ride_bodies, &s.daily_bodies})
    for (const auto& body : *bodies) s.memory_bytes += body.size();
}

std::int64_t Snapshot::ride_row(std::int64_t ride_id) const {
  const auto& ids = rides.ints(deloton::rides::kRideId);
  const auto it = std::lower_bound(ids.begin(), ids.end(), ride_id);
  return (it != ids.end() && *it == ride_id) ? it - ids.begin() : -1;
}

std::int64_t Snapshot::alert_row_of_ride(std::int64_t ride_id) const {
  const auto& ids = alerts.ints(deloton::alerts::kRideId);
  const auto it = std::lower_bound(ids.begin(), ids.end(), ride_id);
  return (it != ids.end() && *it == ride_id) ? it - ids.begin() : -1;
}

std::int64_t Snapshot::daily_row(const std::string& date) const {
  const auto& dates = daily.strings(deloton::daily::kDate);
  std::size_t low = 0, high = dates.size();
  while (low < high) {
    const std::size_t mid = (low + high) / 2;
    if (dates[mid] < date)
      low = mid + 1;
    else
      high = mid;
  }
  return (low < dates.size() && dates[low] == date) ? static_cast<std::int64_t>(low) : -1;
}

std::pair<std::size_t, std::size_t> Snapshot::rides_on_day(std::int64_t day) const {
  const auto& starts = rides.ints(deloton::rides::kStartTime);
  // Guard the products: days far outside the data give an empty range.
  if (day < -1'000'000 || day > 4'000'000) return {0, 0};
  const auto first = std::lower_bound(starts.begin(), starts.end(), day * kMicrosPerDay);
  const auto last = std::lower_bound(first, starts.end(), (day + 1) * kMicrosPerDay);
  return {static_cast<std::size_t>(first - starts.begin()), static_cast<std::size_t>(last - starts.begin())};
}

std::pair<std::size_t, std::size_t> Snapshot::alerts_of_rides(std::size_t first_ride, std::size_t last_ride) const {
  if (first_ride >= last_ride) return {0, 0};
  const auto& ride_ids = rides.ints(deloton::rides::kRideId);
  const auto& ids = alerts.ints(deloton::alerts::kRideId);
  const auto first = std::lower_bound(ids.begin(), ids.end(), ride_ids[first_ride]);
  const auto last = std::upper_bound(first, ids.end(), ride_ids[last_ride - 1]);
  return {static_cast<std::size_t>(first - ids.begin()), static_cast<std::size_t>(last - ids.begin())};
}

}  // namespace mpilake::serve
