#include "mpilake/deloton/pipeline.hpp"

#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "mpilake/deloton/bike_cache.hpp"
#include "mpilake/deloton/log_line.hpp"
#include "mpilake/deloton/log_record.hpp"
#include "mpilake/deloton/rider_rules.hpp"
#include "mpilake/deloton/user_info.hpp"
#include "mpilake/io/range_lines.hpp"
#include "mpilake/io/spill_file.hpp"
#include "mpilake/io/spillable_rows.hpp"
#include "mpilake/job/env_knob.hpp"
#include "mpilake/mpi/every_rank.hpp"
#include "mpilake/mpi/fault.hpp"
#include "mpilake/mpi/memory_guard.hpp"
#include "mpilake/shuffle/group_handoff.hpp"
#include "mpilake/shuffle/key_scan.hpp"
#include "mpilake/shuffle/partitioner.hpp"
#include "mpilake/shuffle/replicate.hpp"
#include "mpilake/shuffle/sample_sort.hpp"
#include "mpilake/table/key_index.hpp"

namespace mpilake::deloton {

namespace {

enum Stage : std::size_t { kSplit, kParse, kRides, kIds, kBuild, kWrite };

// A line's place in its stream: file index and byte offset packed into one int64, so that the order
// of positions is the stream order.
constexpr int kOffsetBits = 40;
constexpr std::int64_t kOffsetMask = (std::int64_t{1} << kOffsetBits) - 1;
constexpr std::int64_t kMaxFilesPerStream = std::int64_t{1} << 22;
constexpr std::int64_t position_of(std::size_t file, std::int64_t offset) {
  return (static_cast<std::int64_t>(file) << kOffsetBits) | offset;
}

// The parsed events: ride starts, ride lines and telemetry lines, one row each, in this rank's stream
// order. kKeyKind holds the id of the line's (stream, bike) in this rank's key list (a ride never
// leaves its key; the key's text is the stream index, 4 bytes, followed by the bike) and the line's
// kind in its low two bits: one column less to fill, 8 of 56 bytes per event (issue 21).
namespace event {
enum : std::size_t { kKeyKind, kPosition, kTime, kA, kB, kC };
enum Kind : std::int64_t { kStart = 0, kRideLine = 1, kTelemetry = 2 };
constexpr std::int64_t key_kind(std::int64_t key, std::int64_t kind) {
  return key << 2 | kind;
}
constexpr std::size_t key_of(std::int64_t key_kind) {
  return static_cast<std::size_t>(key_kind >> 2);
}
constexpr std::int64_t kind_of(std::int64_t key_kind) {
  return key_kind & 3;
}
// kA: duration (ride line) or power (telemetry); kB: resistance (ride line), hrt (telemetry) or the
// index of the start's user JSON in this rank's list (start); kC: rpm (telemetry).
Schema schema() {
  return {{"key_kind", ColumnType::Int64}, {"position", ColumnType::Int64}, {"time", ColumnType::Int64},
          {"a", ColumnType::Float64},      {"b", ColumnType::Int64},        {"c", ColumnType::Int64}};
}
}  // namespace event

// Lines that continue a ride begun on a lower rank travel there with their key's text.
namespace head {
enum : std::size_t { kKey, kPosition, kKind, kTime, kA, kB, kC };
Schema schema() {
  return {{"key", ColumnType::String}, {"position", ColumnType::Int64}, {"kind", ColumnType::Int64},
          {"time", ColumnType::Int64}, {"a", ColumnType::Float64},      {"b", ColumnType::Int64},
          {"c", ColumnType::Int64}};
}
}  // namespace head

std::uint32_t stream_of_key(std::string_view key) {
  std::uint32_t stream = 0;
  std::memcpy(&stream, key.data(), 4);
  return stream;
}

// A line quarantined after parsing (by the ride logic, or a ride start's bad user JSON): its raw
// text is read back from the file when the quarantine is written.
struct LateReject {
  std::uint32_t stream;
  std::int64_t position;
  Reason reason;
};

Reason reason_of(LineProblem problem) {
  switch (problem) {
    case LineProblem::unknown_shape: return Reason::unknown_shape;
    case LineProblem::bad_timestamp: return Reason::bad_timestamp;
    case LineProblem::bad_number: return Reason::bad_number;
    case LineProblem::negative_value: return Reason::negative_value;
    case LineProblem::none: break;
  }
  return Reason::unknown_shape;
}

bool is_blank(const char* text, std::size_t length) {
  for (std::size_t i = 0; i < length; ++i)
    if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') return false;
  return true;
}

// Exact integer sums (an int64 sum of hostile values could overflow), kept in a table as two int64s.
using Wide = __int128;
std::int64_t high_of(Wide value) {
  return static_cast<std::int64_t>(value >> 64);
}
std::int64_t low_of(Wide value) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(value));
}
Wide wide_of(std::int64_t high, std::int64_t low) {
  return (static_cast<Wide>(high) << 64) | static_cast<Wide>(static_cast<std::uint64_t>(low));
}
// The exact sum as float64 (rounded once) over the count; NaN without any.
double exact_average(Wide sum, std::int64_t count) {
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(sum) / static_cast<double>(count);
}
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The wide table a ride travels in from the rank that rebuilt it to the rank holding its id.
namespace ride {
enum : std::size_t {
  // sort key: (start_time, bike, stream, position)
  kStartTime,
  kBike,
  kStream,
  kPosition,
  kOriginRank,
  kOriginIndex,
  kEndTime,
  kDurationS,
  kReadings,
  kHeartRateMin,
  kHeartRateMax,
  kHeartRateAvg,
  kRpmAvg,
  kResistanceAvg,
  kPowerAvgW,
  kEnergyKj,
  kAlert,
  kPowerSum,
  kHeartRateSumHigh,
  kHeartRateSumLow,
  kHeartRateCount,
  kUserId,
  // the alert (when kAlert is 1)
  kAlertTime,
  kAlertKind,
  kAlertHeartRate,
  kHrLower,
  kHrUpper,
  kAge,
  kAlertGender,
  kEmail,
  kFirstName,
  // the rider's details as this ride's start gave them
  kTitle,
  kLastName,
  kGender,
  kDateOfBirthDays,
  kHeightCm,
  kWeightKg,
  kStreet,
  kTown,
  kPostcode,
  kAccountDays,
  kBikeSerial,
  kOriginalSource,
  kNameRaw,
  kAddressRaw,
  kDateOfBirthMs,
  kAccountMs,
  kColumns
};
Schema schema() {
  const auto I = ColumnType::Int64, F = ColumnType::Float64, S = ColumnType::String;
  return {{"start_time", I},
          {"bike", S},
          {"stream", I},
          {"position", I},
          {"origin_rank", I},
          {"origin_index", I},
          {"end_time", I},
          {"duration_s", F},
          {"readings", I},
          {"heart_rate_min", I},
          {"heart_rate_max", I},
          {"heart_rate_avg", F},
          {"rpm_avg", F},
          {"resistance_avg", F},
          {"power_avg_w", F},
          {"energy_kj", F},
          {"alert", I},
          {"power_sum", F},
          {"hr_sum_high", I},
          {"hr_sum_low", I},
          {"hr_count", I},
          {"user_id", I},
          {"alert_time", I},
          {"alert_kind", S},
          {"alert_heart_rate", I},
          {"hr_lower", I},
          {"hr_upper", I},
          {"age", I},
          {"alert_gender", S},
          {"email", S},
          {"first_name", S},
          {"title", S},
          {"last_name", S},
          {"gender", S},
          {"dob_days", I},
          {"height_cm", I},
          {"weight_kg", I},
          {"street", S},
          {"town", S},
          {"postcode", S},
          {"account_days", I},
          {"bike_serial", S},
          {"original_source", S},
          {"name_raw", S},
          {"address_raw", S},
          {"dob_ms", I},
          {"account_ms", I}};
}
}  // namespace ride

// A ride while it is rebuilt on the rank of its start.
struct RideState {
  std::int64_t start_row = 0;  // row of its start in the handed-off events
  std::int64_t readings = 0;
  std::int64_t end_time = kNullInt64;
  double duration = 0;
  std::int64_t hr_min = kNullInt64, hr_max = kNullInt64, hr_count = 0;
  Wide hr_sum = 0, rpm_sum = 0, resistance_sum = 0;
  double power_sum = 0;
  // The alert rule (evaluated only with a known rider with a date of birth).
  bool evaluate = false;
  HeartRateLimits limits;
  std::int64_t age = 0;
  Gender gender = Gender::other;
  int run = 0;
  bool alert = false;
  std::int64_t alert_time = 0, alert_heart_rate = 0;
  bool alert_high = false;
};

// The times of one kind of line a ride has seen (the duplicate rule). A bike's lines come in time
// order nearly always, so a new time is appended to a sorted list; a time out of order is looked up
// there and kept in a hash set.
class SeenTimes {
 public:
  void clear() {
    in_order_.clear();
    out_of_order_.clear();
  }
  // False when `time` was seen before.
  bool insert(std::int64_t time) {
    if (in_order_.empty() || time > in_order_.back()) {
      in_order_.push_back(time);
      return true;
    }
    if (std::binary_search(in_order_.begin(), in_order_.end(), time)) return false;
    return out_of_order_.insert(time).second;
  }

 private:
  std::vector<std::int64_t> in_order_;
  std::unordered_set<std::int64_t> out_of_order_;
};

std::string_view text_or_empty(const std::optional<std::string>& text) {
  return text ? std::string_view(*text) : std::string_view();
}

// Readings that arrived at the rank holding their rides, placed in ride-id order. Each ride's readings
// come from one rank, in order, and the rides held here (`readings_of_ride`, from ride id `first_id`
// on) have known reading counts: a counting sort places them (stable, linear).
Table place_by_ride(const Table& arrived, std::span<const std::int64_t> readings_of_ride, std::int64_t first_id) {
  std::vector<std::size_t> next(readings_of_ride.size() + 1, 0);
  for (std::size_t i = 0; i < readings_of_ride.size(); ++i)
    next[i + 1] = next[i] + static_cast<std::size_t>(readings_of_ride[i]);
  if (next.back() != arrived.num_rows()) throw std::logic_error("readings arrived for rides not held here");
  std::vector<std::size_t> order(arrived.num_rows());
  const auto& ride_ids = arrived.ints(readings::kRideId);
  for (std::size_t r = 0; r < arrived.num_rows(); ++r)
    order[next[static_cast<std::size_t>(ride_ids[r] - first_id)]++] = r;
  return arrived.take(order);
}

// A rank's memory when the run is larger than its budget (issue 20; docs/spill.md section 4). The
// parsed events go to spill files, one per partition of the (stream, bike) keys, so that a ride never
// spans two partitions; the rides are rebuilt partition by partition (the ride passes), and their
// readings spilled. The rides themselves stay in memory (one per hundreds of readings), are sorted for
// their ids as in memory, and the readings zone is then written in passes over ride-id ranges.
struct Budget {
  bool on = false;
  std::string announcement;        // the progress line saying why and where it spills (after the output is ready)
  std::int64_t work_bytes = 0;     // the budget less the fixed overhead and what stays in memory
  std::size_t partitions = 1;      // key partitions (spill files while parsing); a ride pass takes one or more
  std::int64_t pass_events = 0;    // events per rank and ride pass (at most, but a partition is never split)
  std::size_t block_rows = 0;      // event rows per spill block while parsing
  std::int64_t pass_readings = 0;  // readings per readings pass, all ranks together (about)
};

// Bytes a rank takes whatever the landing size: the program, MPI, HDF5 and parse buffers (as STEDI's,
// bench/README.md "Issue 20").
constexpr std::int64_t kFixedBytes = std::int64_t{40} << 20;
// Less work memory than this is refused: partitions and passes would be too small to make progress.
constexpr std::int64_t kLeastWorkBytes = std::int64_t{8} << 20;
// More key partitions than this would keep too many spill files open while parsing.
constexpr std::size_t kMostPartitions = 1024;
// Readings passes routed per read of the spilled readings (a rank keeps this many files open).
constexpr std::size_t kWave = 256;

class DelotonJob {
 public:
  DelotonJob(const Comm& comm, const RunOptions& options)
      : comm_(comm),
        options_(options),
        job_(comm, options.job, "deloton", {"split", "parse", "rides", "ids", "build", "write"}) {}

  RunSummary run();

 private:
  // Decides the budgeted path (or stays in memory) from the node's share; see Budget.
  void plan_budget(const MemoryShare& share);
  void parse();
  // Budgeted: moves the events parsed so far into their key partitions' spill files.
  void route_events();
  // Budgeted: find_duplicate_starts and rebuild_rides, one key partition at a time.
  void rides_in_passes();
  // Budgeted: the readings zone in passes over ride-id ranges from the spilled readings.
  // `readings_of_ride`: per ride held here; `total_readings`: all ranks'.
  void write_readings_in_passes(const Table& ride_offset, const std::vector<std::int64_t>& readings_of_ride,
                                std::int64_t total_readings);
  template <class Work>
  void on_every_rank(Work&& work) {
    mpilake::on_every_rank(comm_, std::forward<Work>(work));
  }
  void find_duplicate_starts();
  void rebuild_rides();
  void assign_ride_ids();
  void build_riders();
  void build_daily();
  void count_bikes_in_several_streams();
  void write_quarantine();

  void reject_late(std::uint32_t stream, std::int64_t position, Reason reason) {
    stats_[stream].quarantine(reason);
    late_rejects_.push_back({stream, position, reason});
  }
  Table exchange(const Table& rows, const std::vector<int>& destination, std::size_t stage) {
    return job_.exchange(rows, destination, stage);
  }
  std::vector<Attribute> pipeline_attributes() const { return {{"pipeline", std::string("deloton")}}; }

  const Comm& comm_;
  const RunOptions& options_;
  job::Job job_;
  RunSummary summary_;
  std::vector<SourceFiles> streams_;
  std::vector<std::string> stream_names_;
  std::vector<StreamStats> stats_;  // this rank's share, per stream
  Quarantine quarantine_;
  std::vector<LateReject> late_rejects_;

  Table events_{event::schema()};
  // This rank's distinct (stream, bike) keys: their texts (a deque, so the index's views stay valid)
  // and an index from text to id.
  std::deque<std::string> key_texts_;
  StringKeyIndex key_index_{1024};
  std::uint32_t key_id(std::string_view text) {
    const std::int64_t found = key_index_.find(text);
    if (found != StringKeyIndex::kAbsent) return static_cast<std::uint32_t>(found);
    key_texts_.emplace_back(text);
    if (budget_.on) part_of_key_.push_back(static_cast<std::uint32_t>(hash_bytes(text) % budget_.partitions));
    return static_cast<std::uint32_t>(key_index_.insert(key_texts_.back()).first);
  }
  Budget budget_;
  std::optional<ScratchFolder> scratch_;                     // budgeted runs: this rank's spill folder
  std::vector<std::uint32_t> part_of_key_;                   // budgeted: per key id, its partition
  std::vector<std::unique_ptr<SpillableRows>> event_parts_;  // budgeted: the events, per key partition
  std::string spill_error_;  // budgeted: a spill error while parsing (raised on every rank afterwards)
  std::unique_ptr<SpillableRows> spilled_readings_;  // budgeted: readings, kRideId the local ride index
  // Budgeted, after the ride ids: per local ride index (this rank's rebuilt rides), its ride id and
  // readings pass; and per ride held here (ride id order), its readings pass.
  std::vector<std::int64_t> ride_id_of_local_, pass_of_local_, pass_of_held_;
  std::int64_t readings_passes_ = 0;
  std::vector<UserInfo> starts_;        // user JSON of this rank's ride starts (event kB indexes it)
  std::vector<std::uint8_t> is_start_;  // per event: a ride start that starts a ride (not a duplicate)
  Table rides_{ride::schema()};  // ride::schema(): this rank's rebuilt rides, then (after the sort) its ride-id range
  Table readings_;               // readings zone; before the ids, column kRideId holds the local ride index
  std::int64_t first_ride_id_ = 1;  // ride id of rides_'s first row (after the sort)
  // This rank's rides' user-JSON strings and bike names that held a NUL (replaced by U+FFFD).
  std::int64_t user_strings_with_nul_ = 0, rides_with_nul_in_bike_ = 0;
  Table riders_zone_, daily_zone_;
  // Every rider here: user_id, normalised gender, date of birth (days).
  Table rider_attributes_{
      {{"user_id", ColumnType::Int64}, {"gender", ColumnType::Int64}, {"dob_days", ColumnType::Int64}}};
};

RunSummary DelotonJob::run() {
  // 1. Split.
  streams_ = job_.discover_streams(kTopic, kSplit);
  for (const auto& stream : streams_) {
    stream_names_.push_back(stream.source.substr(kTopic.size() + 1));
    if (static_cast<std::int64_t>(stream.files.size()) >= kMaxFilesPerStream)
      throw ConsistentError("stream '" + stream.source + "' has " + std::to_string(stream.files.size()) +
                            " files; at most " + std::to_string(kMaxFilesPerStream - 1) + " are supported");
    for (const auto& file : stream.files)
      if (file.bytes > kOffsetMask)
        throw ConsistentError("landing file '" + file.path + "' is larger than 1 TB, which is not supported");
  }
  // The events are about 0.5 x the landing bytes and the readings 0.3 x; measured peaks are 0.94 x
  // (bench/README.md). The estimate keeps room for what those figures leave out. When that does not
  // fit the node's budget, the run takes the budgeted path (plan_budget).
  plan_budget(job_.share_memory(2.0, 0));
  const OutputLock lock = job_.prepare_output(kZones);
  if (budget_.on)
    on_every_rank([&] {
      scratch_.emplace(job_.scratch_folder());
      job::Job::spill_quarantine(quarantine_, *scratch_);
    });
  if (budget_.on) job_.progress().line(budget_.announcement);
  std::int64_t files = 0;
  for (const auto& stream : streams_) files += static_cast<std::int64_t>(stream.files.size());
  job_.progress().line("landing " + options_.job.landing.string() + ": " + std::to_string(job_.stats().landing_bytes) +
                       " bytes in " + std::to_string(files) + " files, " + std::to_string(streams_.size()) +
                       " streams, " + std::to_string(comm_.size()) + " ranks");
  stats_.resize(streams_.size());

  // 2. Parse.
  parse();
  // 3. Rides.
  count_bikes_in_several_streams();
  if (budget_.on) {
    rides_in_passes();
  } else {
    job_.time(kRides, [&] { find_duplicate_starts(); });
    rebuild_rides();
    starts_ = {};
    events_ = Table();
    job_.progress().line(
        "rebuilt " + std::to_string(comm_.allreduce_sum(static_cast<std::int64_t>(rides_.num_rows()))) + " rides, " +
        std::to_string(comm_.allreduce_sum(static_cast<std::int64_t>(readings_.num_rows()))) + " readings");
  }
  // 4. Ride ids, readings to their rides.
  assign_ride_ids();
  // 5. Riders and daily figures.
  build_riders();
  build_daily();

  // 6. Write.
  Table rides_zone(rides_schema()), alerts_zone(alerts_schema());
  std::int64_t no_readings = 0, unknown_rider = 0;
  job_.time(kBuild, [&] {
    const Table& r = rides_;
    for (std::size_t i = 0; i < r.num_rows(); ++i) {
      const std::int64_t ride_id = first_ride_id_ + static_cast<std::int64_t>(i);
      rides_zone.ints(rides::kRideId).push_back(ride_id);
      rides_zone.strings(rides::kStream).push_back(stream_names_[static_cast<std::size_t>(r.ints(ride::kStream)[i])]);
      rides_zone.strings(rides::kBike).push_back(r.strings(ride::kBike)[i]);
      rides_zone.ints(rides::kUserId).push_back(r.ints(ride::kUserId)[i]);
      rides_zone.ints(rides::kStartTime).push_back(r.ints(ride::kStartTime)[i]);
      rides_zone.ints(rides::kEndTime).push_back(r.ints(ride::kEndTime)[i]);
      rides_zone.floats(rides::kDurationS).push_back(r.floats(ride::kDurationS)[i]);
      rides_zone.ints(rides::kReadings).push_back(r.ints(ride::kReadings)[i]);
      rides_zone.ints(rides::kHeartRateMin).push_back(r.ints(ride::kHeartRateMin)[i]);
      rides_zone.ints(rides::kHeartRateMax).push_back(r.ints(ride::kHeartRateMax)[i]);
      rides_zone.floats(rides::kHeartRateAvg).push_back(r.floats(ride::kHeartRateAvg)[i]);
      rides_zone.floats(rides::kRpmAvg).push_back(r.floats(ride::kRpmAvg)[i]);
      rides_zone.floats(rides::kResistanceAvg).push_back(r.floats(ride::kResistanceAvg)[i]);
      rides_zone.floats(rides::kPowerAvgW).push_back(r.floats(ride::kPowerAvgW)[i]);
      rides_zone.floats(rides::kEnergyKj).push_back(r.floats(ride::kEnergyKj)[i]);
      rides_zone.ints(rides::kAlert).push_back(r.ints(ride::kAlert)[i]);
      rides_zone.commit_row();
      if (r.ints(ride::kReadings)[i] == 0) ++no_readings;
      if (r.ints(ride::kUserId)[i] == kNullInt64) ++unknown_rider;
      if (r.ints(ride::kAlert)[i] == 0) continue;
      alerts_zone.ints(alerts::kRideId).push_back(ride_id);
      alerts_zone.ints(alerts::kUserId).push_back(r.ints(ride::kUserId)[i]);
      alerts_zone.strings(alerts::kBike).push_back(r.strings(ride::kBike)[i]);
      alerts_zone.ints(alerts::kAlertTime).push_back(r.ints(ride::kAlertTime)[i]);
      alerts_zone.strings(alerts::kKind).push_back(r.strings(ride::kAlertKind)[i]);
      alerts_zone.ints(alerts::kHeartRate).push_back(r.ints(ride::kAlertHeartRate)[i]);
      alerts_zone.ints(alerts::kHrLower).push_back(r.ints(ride::kHrLower)[i]);
      alerts_zone.ints(alerts::kHrUpper).push_back(r.ints(ride::kHrUpper)[i]);
      alerts_zone.ints(alerts::kAge).push_back(r.ints(ride::kAge)[i]);
      alerts_zone.strings(alerts::kGender).push_back(r.strings(ride::kAlertGender)[i]);
      alerts_zone.strings(alerts::kEmail).push_back(r.strings(ride::kEmail)[i]);
      alerts_zone.strings(alerts::kFirstName).push_back(r.strings(ride::kFirstName)[i]);
      alerts_zone.commit_row();
    }
  });
  // ride_offset: ride k's readings are rows ride_offset[k-1] .. ride_offset[k]-1 (the last rank adds
  // the total).
  Table ride_offset({{"ride_offset", ColumnType::Int64}});
  const std::vector<std::int64_t> readings_of_ride = rides_.ints(ride::kReadings);
  // The readings of the rides held here (in memory: readings_'s rows; budgeted: still spilled).
  std::int64_t held = 0;
  for (const std::int64_t readings : readings_of_ride) held += readings;
  const std::int64_t total_readings = comm_.allreduce_sum(held);
  {
    std::int64_t at = comm_.exscan_sum(held);
    for (std::size_t i = 0; i < rides_.num_rows(); ++i) {
      ride_offset.ints(0).push_back(at);
      ride_offset.commit_row();
      at += rides_.ints(ride::kReadings)[i];
    }
    if (comm_.rank() == comm_.size() - 1) {
      ride_offset.ints(0).push_back(total_readings);
      ride_offset.commit_row();
    }
  }
  rides_ = Table();
  const auto attributes = pipeline_attributes();
  job_.write("riders", riders_zone_, attributes, kWrite);
  riders_zone_ = Table();
  job_.write("rides", rides_zone, attributes, kWrite);
  rides_zone = Table();
  if (budget_.on)
    write_readings_in_passes(ride_offset, readings_of_ride, total_readings);
  else
    job_.write("readings", readings_, attributes, kWrite, {&ride_offset});
  readings_ = Table();
  job_.write("heart_rate_alerts", alerts_zone, attributes, kWrite);
  job_.write("daily", daily_zone_, attributes, kWrite);
  write_quarantine();

  // Accounting, summed over the ranks.
  std::vector<std::int64_t> counts;
  for (const auto& s : stats_) {
    counts.insert(counts.end(), {s.lines, s.blank, s.markers, s.accepted, s.duplicates, s.quarantined});
    counts.insert(counts.end(), s.by_reason.begin(), s.by_reason.end());
  }
  counts = comm_.allreduce_sum(counts);
  const std::size_t width = 6 + kReasonCount;
  for (std::size_t s = 0; s < streams_.size(); ++s) {
    StreamStats total;
    total.files = static_cast<std::int64_t>(streams_[s].files.size());
    total.bytes = streams_[s].total_bytes();
    const std::int64_t* c = counts.data() + s * width;
    total.lines = c[0];
    total.blank = c[1];
    total.markers = c[2];
    total.accepted = c[3];
    total.duplicates = c[4];
    total.quarantined = c[5];
    std::copy(c + 6, c + width, total.by_reason.begin());
    summary_.streams.emplace_back(stream_names_[s], total);
    summary_.quality.orphan_lines += total.by_reason[static_cast<std::size_t>(Reason::orphan_line)];
    summary_.quality.unpaired_lines += total.by_reason[static_cast<std::size_t>(Reason::ride_line_without_telemetry)] +
                                       total.by_reason[static_cast<std::size_t>(Reason::telemetry_without_ride_line)];
    summary_.quality.duplicate_deliveries += total.duplicates;
  }
  summary_.quality.rides_without_readings = comm_.allreduce_sum(no_readings);
  summary_.quality.rides_with_unknown_rider = comm_.allreduce_sum(unknown_rider);
  summary_.quality.user_strings_with_nul = comm_.allreduce_sum(user_strings_with_nul_);
  summary_.quality.rides_with_nul_in_bike = comm_.allreduce_sum(rides_with_nul_in_bike_);
  if (scratch_) job_.stats().memory.bytes_spilled_here = scratch_->bytes_spilled();
  job_.finish([&] {
    summary_.run = job_.stats();
    return summary_json(summary_);
  });
  summary_.run = job_.stats();
  return summary_;
}

// 2. Each rank parses its byte range of every stream: bad records and lines go to the quarantine at
//    once; markers are counted; ride starts, ride lines and telemetry lines become events.
void DelotonJob::parse() {
  // An event is a line of about 110 bytes: size the columns once for this rank's ranges of all
  // streams (a hint only; reserving per stream would copy the columns once per stream).
  std::int64_t bytes = 0;
  for (const SourceFiles& source : streams_) bytes += range_bytes(source, comm_.rank(), comm_.size());
  // Budgeted, the events of each batch go to their partitions' spill files (route_events).
  if (!budget_.on)
    events_.reserve_rows(events_.num_rows() + static_cast<std::size_t>(bytes / 100));
  else
    on_every_rank([&] {
      for (std::size_t p = 0; p < budget_.partitions; ++p)
        event_parts_.push_back(std::make_unique<SpillableRows>(
            event::schema(), &*scratch_, "events-part-" + std::to_string(p + 1), budget_.block_rows));
    });
  job_.parse_sources(kParse, [&](std::size_t s, const ParseOptions& options) {
    const SourceFiles& source = streams_[s];
    StreamStats& stats = stats_[s];
    LogRecordParser records;
    UserInfoParser users;
    std::string_view log;  // the record's log text: a view into the batch or into `records`
    TimestampCache timestamps;
    BikeIdCache bikes;  // this stream's bikes -> key ids, before the key text and its hash
    std::string key;
    const auto stream = static_cast<std::uint32_t>(s);
    const auto bike_key_id = [&](std::string_view bike) {
      key.resize(4);
      std::memcpy(key.data(), &stream, 4);
      key.append(bike);
      return key_id(key);
    };
    read_range_lines(source, comm_.rank(), comm_.size(), options.chunk_bytes, simdjson::SIMDJSON_PADDING,
                     options.on_progress, [&](const LineBatch& batch) {
                       // The event columns, looked up once per batch rather than once per value.
                       auto& key_kinds = events_.ints(event::kKeyKind);
                       auto& positions = events_.ints(event::kPosition);
                       auto& times = events_.ints(event::kTime);
                       auto& as = events_.floats(event::kA);
                       auto& bs = events_.ints(event::kB);
                       auto& cs = events_.ints(event::kC);
                       for (const Line& line : batch.lines) {
                         const char* text = batch.reader.data() + line.start;
                         ++stats.lines;
                         if (is_blank(text, line.length)) {
                           ++stats.blank;
                           continue;
                         }
                         const auto reject = [&](Reason reason) {
                           stats.quarantine(reason);
                           quarantine_.add(source.source, batch.file.path, line.file_offset, reason_name(reason),
                                           std::string_view(text, line.length));
                         };
                         if (!records.parse(text, line.length, batch.reader.capacity_from(line.start), log)) {
                           reject(Reason::bad_record);
                           continue;
                         }
                         LogLine parsed;
                         if (const LineProblem problem = parse_log_line(log, parsed, timestamps);
                             problem != LineProblem::none) {
                           reject(reason_of(problem));
                           continue;
                         }
                         std::int64_t kind = 0, b = 0, c = 0;
                         double a = 0;
                         switch (parsed.kind) {
                           case LineKind::marker: ++stats.markers; continue;
                           case LineKind::ride_start:
                             kind = event::kStart;
                             b = static_cast<std::int64_t>(starts_.size());
                             starts_.push_back(users.parse(parsed.user_json));
                             break;
                           case LineKind::ride:
                             kind = event::kRideLine;
                             a = parsed.duration;
                             b = parsed.resistance;
                             break;
                           case LineKind::telemetry:
                             kind = event::kTelemetry;
                             a = parsed.power;
                             b = parsed.hrt;
                             c = parsed.rpm;
                             break;
                         }
                         key_kinds.push_back(event::key_kind(bikes.id(parsed.bike, bike_key_id), kind));
                         positions.push_back(position_of(batch.file_index, line.file_offset));
                         times.push_back(parsed.timestamp_us);
                         as.push_back(a);
                         bs.push_back(b);
                         cs.push_back(c);
                         events_.commit_row();
                       }
                       if (budget_.on) route_events();
                     });
  });
  if (budget_.on) {
    // A spill error (a full scratch disk) stops every rank now that the parse is over.
    comm_.throw_if_any(spill_error_.empty() ? quarantine_.spill_error() : spill_error_);
    on_every_rank([&] {
      for (auto& part : event_parts_) part->close();
    });
  }
  std::int64_t events_here = static_cast<std::int64_t>(events_.num_rows());
  for (const auto& part : event_parts_) events_here += part->rows();
  std::int64_t accepted_events = comm_.allreduce_sum(events_here);
  job_.progress().line("parsed " + std::to_string(accepted_events) + " ride starts, ride and telemetry lines");
  if (budget_.on) {
    job_.progress().line("spilled the events into " + std::to_string(budget_.partitions) + " bike partitions: " +
                         format_bytes(comm_.allreduce_sum(scratch_->bytes_spilled())) + " spilled");
    fault_point("spilled", comm_);
  }
}

// 3a. A ride start whose timestamp equals that of its bike's previous ride start line in the stream is
//     a re-sent duplicate. The previous start of a rank's first start of a bike may lie on a lower
//     rank: one per-key scan over the ranks brings its timestamp. Starts are counted here, on the
//     rank that parsed them (they never move).
void DelotonJob::find_duplicate_starts() {
  const auto& key_kinds = events_.ints(event::kKeyKind);
  const auto& times = events_.ints(event::kTime);
  std::vector<std::int64_t> last_start(key_texts_.size(), kNullInt64);  // per key: its last start line's time here
  for (std::size_t r = 0; r < events_.num_rows(); ++r)
    if (event::kind_of(key_kinds[r]) == event::kStart) last_start[event::key_of(key_kinds[r])] = times[r];
  std::vector<KeyedValue> passed;
  std::vector<std::size_t> passed_ids;
  for (std::size_t id = 0; id < last_start.size(); ++id) {
    if (last_start[id] == kNullInt64) continue;
    passed.push_back({key_texts_[id], last_start[id]});
    passed_ids.push_back(id);
  }
  const auto before = previous_by_key(comm_, passed);
  // The previous start line's time per key, walking this rank's events in order.
  std::vector<std::optional<std::int64_t>> previous(last_start.size());
  for (std::size_t i = 0; i < passed.size(); ++i) previous[passed_ids[i]] = before[i];
  is_start_.assign(events_.num_rows(), 0);
  for (std::size_t r = 0; r < events_.num_rows(); ++r) {
    if (event::kind_of(key_kinds[r]) != event::kStart) continue;
    const std::size_t key = event::key_of(key_kinds[r]);
    auto& last = previous[key];
    const std::uint32_t stream = stream_of_key(key_texts_[key]);
    const bool duplicate = last && *last == times[r];
    last = times[r];
    if (duplicate) {
      ++stats_[stream].duplicates;
      continue;
    }
    is_start_[r] = 1;
    if (starts_[static_cast<std::size_t>(events_.ints(event::kB)[r])].valid)
      ++stats_[stream].accepted;
    else
      reject_late(stream, events_.ints(event::kPosition)[r], Reason::bad_user_json);
  }
}

// 3b. The rides, rebuilt line by line as DELOTON.md says, in one pass over this rank's events with
//     per-bike state. A bike's lines before its first start here continue a ride begun on a lower
//     rank (find_group_heads says which): they are sent there, and that rank goes on with the ride's
//     state where its own lines ended. Only those lines move; nothing is sorted.
void DelotonJob::rebuild_rides() {
  struct KeyState {
    std::int64_t ride = -1;  // index of the key's current ride in `rides`
    bool pending = false;    // a ride line waiting for its telemetry line
    std::int64_t pending_position = 0, pending_time = 0, pending_resistance = 0;
    double pending_duration = 0;
    SeenTimes seen_ride_lines, seen_telemetry;  // times of the lines the current ride saw, per kind
  };
  std::vector<KeyState> state(key_texts_.size());
  std::vector<RideState> rides;
  // Rides rebuilt before (budgeted: in earlier passes): this call's rides follow them in rides_, and
  // a reading's local ride index counts them.
  const auto rides_before = static_cast<std::int64_t>(rides_.num_rows());
  readings_ = Table(readings_schema());
  readings_.reserve_rows(events_.num_rows() / 2 + 16);  // a reading is two events

  const auto close_pending = [&](KeyState& key, std::uint32_t stream) {
    if (key.pending) reject_late(stream, key.pending_position, Reason::ride_line_without_telemetry);
    key.pending = false;
  };
  // One line of a bike, in stream order. `start_row` is the event row of a ride start, -1 otherwise.
  const auto step = [&](std::size_t key_id, std::int64_t kind, std::int64_t position, std::int64_t time, double a,
                        std::int64_t b, std::int64_t c, std::int64_t start_row) {
    KeyState& key = state[key_id];
    const std::uint32_t stream = stream_of_key(key_texts_[key_id]);
    StreamStats& stats = stats_[stream];
    if (kind == event::kStart) {
      if (start_row < 0) return;  // a duplicate start: counted where it was parsed
      close_pending(key, stream);
      key.ride = static_cast<std::int64_t>(rides.size());
      RideState& ride = rides.emplace_back();
      ride.start_row = start_row;
      key.seen_ride_lines.clear();
      key.seen_telemetry.clear();
      const UserInfo& user = starts_[static_cast<std::size_t>(b)];
      if (user.valid && date_days_in_range(user.date_of_birth_ms) != kNullInt64) {
        ride.evaluate = true;
        ride.age = age_on(user.date_of_birth_ms, time);
        ride.gender = normalise_gender(text_or_empty(user.gender));
        ride.limits = heart_rate_limits(ride.age, ride.gender);
      }
      return;
    }
    if (key.ride < 0) {  // the dump began mid-ride: before the bike's first ride start
      reject_late(stream, position, Reason::orphan_line);
      return;
    }
    if (!(kind == event::kRideLine ? key.seen_ride_lines : key.seen_telemetry).insert(time)) {
      ++stats.duplicates;
      return;
    }
    if (kind == event::kRideLine) {
      close_pending(key, stream);
      key.pending = true;
      key.pending_position = position;
      key.pending_time = time;
      key.pending_duration = a;
      key.pending_resistance = b;
      return;
    }
    if (!key.pending) {
      reject_late(stream, position, Reason::telemetry_without_ride_line);
      return;
    }
    // A reading: the pending ride line and this telemetry line.
    key.pending = false;
    stats.accepted += 2;
    const std::int64_t hrt = b;
    readings_.ints(readings::kRideId).push_back(rides_before + key.ride);
    readings_.ints(readings::kTime).push_back(key.pending_time);
    readings_.floats(readings::kElapsedS).push_back(key.pending_duration);
    readings_.ints(readings::kResistance).push_back(key.pending_resistance);
    readings_.ints(readings::kHeartRate).push_back(hrt == 0 ? kNullInt64 : hrt);
    readings_.ints(readings::kRpm).push_back(c);
    readings_.floats(readings::kPowerW).push_back(a);
    readings_.commit_row();
    RideState& r = rides[static_cast<std::size_t>(key.ride)];
    if (r.readings == 0 || key.pending_duration > r.duration) r.duration = key.pending_duration;
    r.end_time = r.readings == 0 ? key.pending_time : std::max(r.end_time, key.pending_time);
    ++r.readings;
    r.rpm_sum += c;
    r.resistance_sum += key.pending_resistance;
    r.power_sum += a;
    if (hrt != 0) {
      r.hr_min = r.hr_count == 0 ? hrt : std::min(r.hr_min, hrt);
      r.hr_max = r.hr_count == 0 ? hrt : std::max(r.hr_max, hrt);
      r.hr_sum += hrt;
      ++r.hr_count;
    }
    if (r.evaluate && !r.alert) {
      // Three consecutive abnormal readings alert, at the third; a NULL heart rate breaks the run.
      if (hrt != 0 && (hrt < r.limits.lower || hrt > r.limits.upper)) {
        if (++r.run == 3) {
          r.alert = true;
          r.alert_time = key.pending_time;
          r.alert_heart_rate = hrt;
          r.alert_high = hrt > r.limits.upper;
        }
      } else {
        r.run = 0;
      }
    }
  };

  // This rank's own lines, in order; the leading lines of rides begun lower down are set aside.
  Table heads(head::schema());
  std::vector<int> head_owner;
  job_.time(kRides, [&] {
    const auto& key_kinds = events_.ints(event::kKeyKind);
    std::vector<std::uint32_t> keys(key_kinds.size());
    for (std::size_t r = 0; r < keys.size(); ++r) keys[r] = static_cast<std::uint32_t>(event::key_of(key_kinds[r]));
    std::vector<std::string_view> texts(key_texts_.begin(), key_texts_.end());
    const GroupHeads lead = find_group_heads(comm_, keys, texts, is_start_);
    const auto& positions = events_.ints(event::kPosition);
    const auto& times = events_.ints(event::kTime);
    const auto& as = events_.floats(event::kA);
    const auto& bs = events_.ints(event::kB);
    const auto& cs = events_.ints(event::kC);
    for (std::size_t r = 0; r < events_.num_rows(); ++r) {
      if (lead.owner[r] >= 0) {
        heads.strings(head::kKey).push_back(key_texts_[keys[r]]);
        heads.ints(head::kPosition).push_back(positions[r]);
        heads.ints(head::kKind).push_back(event::kind_of(key_kinds[r]));
        heads.ints(head::kTime).push_back(times[r]);
        heads.floats(head::kA).push_back(as[r]);
        heads.ints(head::kB).push_back(bs[r]);
        heads.ints(head::kC).push_back(cs[r]);
        heads.commit_row();
        head_owner.push_back(lead.owner[r]);
        continue;
      }
      step(keys[r], event::kind_of(key_kinds[r]), positions[r], times[r], as[r], bs[r], cs[r],
           is_start_[r] != 0 ? static_cast<std::int64_t>(r) : -1);
    }
  });
  // The lines that continue this rank's open rides arrive from the higher ranks, in rank order.
  const Table arrived = exchange(heads, head_owner, kRides);
  heads = Table();
  job_.time(kRides, [&] {
    for (std::size_t r = 0; r < arrived.num_rows(); ++r) {
      const std::int64_t id = key_index_.find(arrived.strings(head::kKey)[r]);
      if (id == StringKeyIndex::kAbsent) throw std::logic_error("a handed-off line of a bike this rank never started");
      step(static_cast<std::size_t>(id), arrived.ints(head::kKind)[r], arrived.ints(head::kPosition)[r],
           arrived.ints(head::kTime)[r], arrived.floats(head::kA)[r], arrived.ints(head::kB)[r],
           arrived.ints(head::kC)[r], -1);
    }
    for (std::size_t k = 0; k < state.size(); ++k)
      close_pending(state[k], stream_of_key(key_texts_[k]));  // end of stream
  });
  is_start_ = {};

  // The rides as rows that travel to the rank holding their ride id.
  job_.time(kRides, [&] {
    if (rides_.num_columns() != ride::kColumns) throw std::logic_error("ride::schema() and its column names differ");
    Table& t = rides_;
    for (std::size_t i = 0; i < rides.size(); ++i) {
      const RideState& r = rides[i];
      const auto row = static_cast<std::size_t>(r.start_row);
      const std::string_view key = key_texts_[event::key_of(events_.ints(event::kKeyKind)[row])];
      const UserInfo& user = starts_[static_cast<std::size_t>(events_.ints(event::kB)[row])];
      t.ints(ride::kStartTime).push_back(events_.ints(event::kTime)[row]);
      if (key.substr(4).find('\0') == std::string_view::npos) {  // (the first 4 bytes: the stream)
        t.strings(ride::kBike).push_back(key.substr(4));
      } else {  // the zones' fixed-length strings would cut the bike at its NUL
        std::string bike(key.substr(4));
        rides_with_nul_in_bike_ += replace_nul(bike) ? 1 : 0;
        t.strings(ride::kBike).push_back(bike);
      }
      user_strings_with_nul_ += user.strings_with_nul;
      t.ints(ride::kStream).push_back(stream_of_key(key));
      t.ints(ride::kPosition).push_back(events_.ints(event::kPosition)[row]);
      t.ints(ride::kOriginRank).push_back(comm_.rank());
      t.ints(ride::kOriginIndex).push_back(rides_before + static_cast<std::int64_t>(i));
      t.ints(ride::kEndTime).push_back(r.end_time);
      t.floats(ride::kDurationS).push_back(r.readings == 0 ? 0.0 : r.duration);
      t.ints(ride::kReadings).push_back(r.readings);
      t.ints(ride::kHeartRateMin).push_back(r.hr_min);
      t.ints(ride::kHeartRateMax).push_back(r.hr_max);
      t.floats(ride::kHeartRateAvg).push_back(exact_average(r.hr_sum, r.hr_count));
      t.floats(ride::kRpmAvg).push_back(exact_average(r.rpm_sum, r.readings));
      t.floats(ride::kResistanceAvg).push_back(exact_average(r.resistance_sum, r.readings));
      t.floats(ride::kPowerAvgW).push_back(r.readings == 0 ? kNaN : r.power_sum / static_cast<double>(r.readings));
      t.floats(ride::kEnergyKj).push_back(r.power_sum / 1000.0);
      t.ints(ride::kAlert).push_back(r.alert ? 1 : 0);
      t.floats(ride::kPowerSum).push_back(r.power_sum);
      t.ints(ride::kHeartRateSumHigh).push_back(high_of(r.hr_sum));
      t.ints(ride::kHeartRateSumLow).push_back(low_of(r.hr_sum));
      t.ints(ride::kHeartRateCount).push_back(r.hr_count);
      t.ints(ride::kUserId).push_back(user.valid ? user.user_id : kNullInt64);
      const NameParts name = split_name(text_or_empty(user.name));
      t.ints(ride::kAlertTime).push_back(r.alert ? r.alert_time : kNullInt64);
      t.strings(ride::kAlertKind).push_back(r.alert ? (r.alert_high ? "high" : "low") : "");
      t.ints(ride::kAlertHeartRate).push_back(r.alert ? r.alert_heart_rate : kNullInt64);
      t.ints(ride::kHrLower).push_back(r.evaluate ? r.limits.lower : kNullInt64);
      t.ints(ride::kHrUpper).push_back(r.evaluate ? r.limits.upper : kNullInt64);
      t.ints(ride::kAge).push_back(r.evaluate ? r.age : kNullInt64);
      t.strings(ride::kAlertGender).push_back(r.evaluate ? gender_name(r.gender) : "");
      t.strings(ride::kEmail).push_back(text_or_empty(user.email));
      t.strings(ride::kFirstName).push_back(name.first_name);
      t.strings(ride::kTitle).push_back(name.title);
      t.strings(ride::kLastName).push_back(name.last_name);
      t.strings(ride::kGender).push_back(text_or_empty(user.gender));
      t.ints(ride::kDateOfBirthDays).push_back(date_days_in_range(user.date_of_birth_ms));
      t.ints(ride::kHeightCm).push_back(user.height_cm);
      t.ints(ride::kWeightKg).push_back(user.weight_kg);
      const AddressParts address = split_address(text_or_empty(user.address));
      t.strings(ride::kStreet).push_back(address.street);
      t.strings(ride::kTown).push_back(address.town);
      t.strings(ride::kPostcode).push_back(address.postcode);
      t.ints(ride::kAccountDays).push_back(date_days_in_range(user.account_create_ms));
      t.strings(ride::kBikeSerial).push_back(text_or_empty(user.bike_serial));
      t.strings(ride::kOriginalSource).push_back(text_or_empty(user.original_source));
      t.strings(ride::kNameRaw).push_back(text_or_empty(user.name));
      t.strings(ride::kAddressRaw).push_back(text_or_empty(user.address));
      t.ints(ride::kDateOfBirthMs).push_back(user.date_of_birth_ms);
      t.ints(ride::kAccountMs).push_back(user.account_create_ms);
      t.commit_row();
    }
  });
}

// 4. Ride ids: dense in (start_time, bike, stream, position) order through a sample sort and a prefix
//    sum. The ids go back to the rides' origins, and the readings go to the rank now holding their ride.
void DelotonJob::assign_ride_ids() {
  const std::vector<std::size_t> key = {ride::kStartTime, ride::kBike, ride::kStream, ride::kPosition};
  rides_ =
      job_.time(kIds, [&] { return sort_globally(comm_, rides_, key, options_.job.exchange, &job_.exchange_stats()); });
  first_ride_id_ = comm_.exscan_sum(static_cast<std::int64_t>(rides_.num_rows())) + 1;
  // Budgeted: each ride's readings pass, from the readings of the rides before it (all ranks): a pass
  // is about pass_readings readings of consecutive ride ids, a ride never split (a ride with more is a
  // pass of its own).
  if (budget_.on) {
    const auto& readings = rides_.ints(ride::kReadings);
    std::int64_t held = 0;
    for (const std::int64_t count : readings) held += count;
    std::int64_t before = comm_.exscan_sum(held);
    pass_of_held_.resize(rides_.num_rows());
    for (std::size_t i = 0; i < rides_.num_rows(); ++i) {
      pass_of_held_[i] = before / budget_.pass_readings;
      before += readings[i];
    }
    readings_passes_ = comm_.allreduce_max(pass_of_held_.empty() ? 0 : pass_of_held_.back() + 1);
    readings_passes_ = std::max<std::int64_t>(readings_passes_, 1);
  }
  // (origin index, ride id, holder, readings pass) back to each ride's origin rank.
  Table ids({{"origin_index", ColumnType::Int64},
             {"ride_id", ColumnType::Int64},
             {"holder", ColumnType::Int64},
             {"pass", ColumnType::Int64}});
  std::vector<int> to_origin;
  for (std::size_t i = 0; i < rides_.num_rows(); ++i) {
    ids.ints(0).push_back(rides_.ints(ride::kOriginIndex)[i]);
    ids.ints(1).push_back(first_ride_id_ + static_cast<std::int64_t>(i));
    ids.ints(2).push_back(comm_.rank());
    ids.ints(3).push_back(budget_.on ? pass_of_held_[i] : 0);
    ids.commit_row();
    to_origin.push_back(static_cast<int>(rides_.ints(ride::kOriginRank)[i]));
  }
  const Table mine = exchange(ids, to_origin, kIds);
  if (budget_.on) {
    // The readings stay spilled: write_readings_in_passes routes them with these.
    ride_id_of_local_.assign(mine.num_rows(), 0);
    pass_of_local_.assign(mine.num_rows(), 0);
    for (std::size_t i = 0; i < mine.num_rows(); ++i) {
      const auto index = static_cast<std::size_t>(mine.ints(0)[i]);
      ride_id_of_local_[index] = mine.ints(1)[i];
      pass_of_local_[index] = mine.ints(3)[i];
    }
    return;
  }
  job_.time(kIds, [&] {
    std::vector<std::int64_t> ride_id(mine.num_rows()), holder(mine.num_rows());
    for (std::size_t i = 0; i < mine.num_rows(); ++i) {
      const auto index = static_cast<std::size_t>(mine.ints(0)[i]);
      ride_id[index] = mine.ints(1)[i];
      holder[index] = mine.ints(2)[i];
    }
    std::vector<int> destination(readings_.num_rows());
    auto& ride_of_reading = readings_.ints(readings::kRideId);
    for (std::size_t r = 0; r < readings_.num_rows(); ++r) {
      const auto local = static_cast<std::size_t>(ride_of_reading[r]);
      destination[r] = static_cast<int>(holder[local]);
      ride_of_reading[r] = ride_id[local];
    }
    to_origin.swap(destination);
  });
  Table arrived = exchange(readings_, to_origin, kIds);
  readings_ = job_.time(kIds, [&] { return place_by_ride(arrived, rides_.ints(ride::kReadings), first_ride_id_); });
}

void DelotonJob::plan_budget(const MemoryShare& share) {
  const std::int64_t forced_partitions = job::env_count("MPILAKE_DELOTON_PARTITIONS");
  const std::int64_t forced_pass_readings = job::env_count("MPILAKE_DELOTON_PASS_READINGS");
  const std::int64_t forced_block_rows = job::env_count("MPILAKE_SPILL_BLOCK_ROWS");
  if (share.fits && forced_partitions == 0) return;
  const std::string budget_text = job_.describe_share(share);
  std::int64_t mine = 0;
  for (const SourceFiles& source : streams_) mine += range_bytes(source, comm_.rank(), comm_.size());
  // What stays in memory through the passes: the rides with their starts' user details (a ride is
  // hundreds of readings), the keys, the late rejects (16 bytes each), and the quarantine's records
  // of lines rejected by the parse (about 350 bytes each): a 128th of the landing, which allows for
  // one bad line in 300 (a dump with many more needs a larger budget).
  const std::int64_t kept = mine / 128;
  std::int64_t work = share.per_rank < 0 ? std::int64_t{1} << 30 : share.per_rank - kFixedBytes - kept;
  work = -comm_.allreduce_max(-work);  // the tightest rank's, so every rank plans alike
  const auto too_small = [&](const std::string& why, std::int64_t least_work) {
    return ConsistentError("--memory-limit is too small for this run: " + budget_text + " " + why + "; give at least " +
                           format_bytes((kFixedBytes + kept + least_work) * share.node_ranks) +
                           " per node, or run on more nodes");
  };
  if (work < kLeastWorkBytes)
    throw too_small("leaves " + format_bytes(std::max<std::int64_t>(0, work)) + " per rank after the fixed overhead (" +
                        format_bytes(kFixedBytes) + ") and the rides and quarantine kept in memory (about " +
                        format_bytes(kept) + " per rank)",
                    kLeastWorkBytes);
  // A ride pass holds its events (48 bytes each), their flags and hand-off plans (about 12 bytes),
  // and its readings (a reading is two events, 56 bytes) twice while they are spilled: about 120 bytes
  // an event, in half the work memory. An event is a line of 100 bytes or more.
  const std::int64_t forced_pass_events = job::env_count("MPILAKE_DELOTON_PASS_EVENTS");
  const std::int64_t pass_events = forced_pass_events > 0  ? forced_pass_events
                                   : forced_partitions > 0 ? 1  // forced partitions: a pass each
                                                           : std::max<std::int64_t>(1024, work / 2 / 120);
  const std::int64_t events = mine / 100;
  const std::int64_t passes = comm_.allreduce_max((events + pass_events - 1) / pass_events);
  // The keys are hashed into partitions, and the partitions grouped into passes by their events once
  // the parse has counted them: eight partitions a pass even out the keys' sizes (a Kafka dump may have
  // only a few dozen bikes). While parsing, each partition buffers a block of at least 256 events, all
  // of them together in half the work memory.
  const auto most_partitions = static_cast<std::int64_t>(
      std::min<std::int64_t>(kMostPartitions, std::max<std::int64_t>(1, work / 2 / 48 / 256)));
  if (forced_partitions == 0 && passes > most_partitions)
    throw too_small("would need " + std::to_string(passes) + " ride passes (at most " +
                        std::to_string(most_partitions) + " for this budget)",
                    events * 120 * 2 / static_cast<std::int64_t>(kMostPartitions));
  const std::int64_t partitions =
      forced_partitions > 0 ? forced_partitions : std::min(most_partitions, std::max<std::int64_t>(64, 8 * passes));
  budget_.on = true;
  budget_.work_bytes = work;
  budget_.partitions = static_cast<std::size_t>(partitions);
  budget_.pass_events = pass_events;
  budget_.block_rows = forced_block_rows > 0 ? static_cast<std::size_t>(forced_block_rows)
                                             : static_cast<std::size_t>(std::max<std::int64_t>(
                                                   256, work / 2 / 48 / static_cast<std::int64_t>(budget_.partitions)));
  // A readings pass holds its rows about three times (read, exchanged, placed) at 56 bytes, with the
  // exchange's destinations, its buffers and the placing order: about 240 bytes a reading, and all of
  // a pass may sit on one rank (rides of nearby start times were parsed from the same stretch).
  budget_.pass_readings =
      forced_pass_readings > 0 ? forced_pass_readings : std::max<std::int64_t>(1024, work / 2 / 240);
  job_.cap_exchange_round(work / 8);
  job_.stats().memory.budgeted = true;
  budget_.announcement = "memory: " +
                         (share.fits ? std::string("MPILAKE_DELOTON_PARTITIONS forces the budgeted path")
                                     : budget_text + " is less than an in-memory run needs") +
                         ": spilling to " + (job_.scratch_root() / std::string(kScratchFolderName)).string() +
                         ", rebuilding the rides in " + std::to_string(budget_.partitions) + " bike partitions";
}

void DelotonJob::route_events() {
  if (spill_error_.empty()) {
    try {
      const auto& key_kinds = events_.ints(event::kKeyKind);
      const auto& positions = events_.ints(event::kPosition);
      const auto& times = events_.ints(event::kTime);
      const auto& as = events_.floats(event::kA);
      const auto& bs = events_.ints(event::kB);
      const auto& cs = events_.ints(event::kC);
      for (std::size_t r = 0; r < events_.num_rows(); ++r) {
        SpillableRows& part = *event_parts_[part_of_key_[event::key_of(key_kinds[r])]];
        Table& rows = part.tail();
        rows.ints(event::kKeyKind).push_back(key_kinds[r]);
        rows.ints(event::kPosition).push_back(positions[r]);
        rows.ints(event::kTime).push_back(times[r]);
        rows.floats(event::kA).push_back(as[r]);
        rows.ints(event::kB).push_back(bs[r]);
        rows.ints(event::kC).push_back(cs[r]);
        rows.commit_row();
        part.after_append();
      }
    } catch (const std::exception& e) {
      spill_error_ = e.what();
    }
  }
  events_.truncate_rows(0);
}

void DelotonJob::rides_in_passes() {
  on_every_rank(
      [&] { spilled_readings_ = std::make_unique<SpillableRows>(readings_schema(), &*scratch_, "readings", 1); });
  // Passes: consecutive partitions, each pass at most pass_events on any rank (a partition with more
  // is a pass of its own).
  std::vector<std::int64_t> most(budget_.partitions, 0);
  for (std::size_t f = 0; f < budget_.partitions; ++f) most[f] = event_parts_[f]->rows();
  comm_.allreduce_max_in_place(most);
  std::vector<std::size_t> pass_first = {0};
  std::int64_t in_pass = 0;
  for (std::size_t f = 0; f < budget_.partitions; ++f) {
    if (in_pass > 0 && in_pass + most[f] > budget_.pass_events) {
      pass_first.push_back(f);
      in_pass = 0;
    }
    in_pass += most[f];
  }
  pass_first.push_back(budget_.partitions);
  const std::size_t passes = pass_first.size() - 1;
  for (std::size_t p = 0; p < passes; ++p) {
    job_.time(kRides, [&] {
      on_every_rank([&] {
        std::int64_t rows = 0;
        for (std::size_t f = pass_first[p]; f < pass_first[p + 1]; ++f) rows += event_parts_[f]->rows();
        events_ = Table(event::schema());
        events_.reserve_rows(static_cast<std::size_t>(rows));
        for (std::size_t f = pass_first[p]; f < pass_first[p + 1]; ++f) {
          event_parts_[f]->visit([&](const Table& block) { events_.append(block); });
          event_parts_[f]->discard();
        }
      });
    });
    for (std::size_t f = pass_first[p]; f < pass_first[p + 1]; ++f) event_parts_[f].reset();
    const auto rides_before = static_cast<std::int64_t>(rides_.num_rows());
    job_.time(kRides, [&] { find_duplicate_starts(); });
    rebuild_rides();
    events_ = Table();
    const auto readings = static_cast<std::int64_t>(readings_.num_rows());
    // The pass's readings as one spill block (a reading's kRideId: its local ride index).
    job_.time(kRides, [&] {
      on_every_rank([&] {
        spilled_readings_->tail().append(readings_);
        readings_ = Table();
        spilled_readings_->after_append();
      });
    });
    const std::vector<std::int64_t> figures = comm_.allreduce_sum(std::vector<std::int64_t>{
        static_cast<std::int64_t>(rides_.num_rows()) - rides_before, readings, scratch_->bytes_spilled()});
    job_.progress().line("ride pass " + std::to_string(p + 1) + " of " + std::to_string(passes) + ": " +
                         std::to_string(figures[0]) + " rides, " + std::to_string(figures[1]) + " readings; " +
                         format_bytes(figures[2]) + " spilled so far");
    fault_point("pass", comm_);
  }
  on_every_rank([&] { spilled_readings_->close(); });
  event_parts_.clear();
  starts_ = {};
  job_.progress().line("rebuilt " + std::to_string(comm_.allreduce_sum(static_cast<std::int64_t>(rides_.num_rows()))) +
                       " rides, " + std::to_string(comm_.allreduce_sum(spilled_readings_->rows())) + " readings");
}

void DelotonJob::write_readings_in_passes(const Table& ride_offset, const std::vector<std::int64_t>& readings_of_ride,
                                          std::int64_t total_readings) {
  // The rank holding a ride id: the last whose first ride id is not above it (a rank without rides has
  // the next rank's first id).
  std::vector<std::int64_t> first_of(static_cast<std::size_t>(comm_.size()), 0);
  first_of[static_cast<std::size_t>(comm_.rank())] = first_ride_id_;
  first_of = comm_.allreduce_sum(first_of);
  const auto holder = [&](std::int64_t ride_id) {
    return static_cast<int>(std::upper_bound(first_of.begin(), first_of.end(), ride_id) - first_of.begin()) - 1;
  };
  const auto passes = static_cast<std::size_t>(readings_passes_);
  job_.stats().memory.passes = readings_passes_;
  const auto zone =
      job_.open_zone("readings", readings_schema(), ZoneAppendPlan{total_readings, {}}, {ride_offset.schema()});
  // Each pass's readings, routed from the spilled readings into a file per pass, so that a pass reads
  // only its own rows; in waves of at most kWave passes (a rank keeps kWave files open and reads the
  // spilled readings once per wave).
  std::vector<std::unique_ptr<SpillableRows>> parts(passes);
  const auto route_wave = [&](std::size_t first_pass) {
    const std::size_t end_pass = std::min(passes, first_pass + kWave);
    // A quarter of the work memory buffers the wave's files (a reading row is 56 bytes).
    const auto buffered = static_cast<std::size_t>(
        std::max<std::int64_t>(256, budget_.work_bytes / 4 / 56 / static_cast<std::int64_t>(end_pass - first_pass)));
    for (std::size_t q = first_pass; q < end_pass; ++q)
      parts[q] = std::make_unique<SpillableRows>(readings_schema(), &*scratch_,
                                                 "readings-pass-" + std::to_string(q + 1), buffered);
    spilled_readings_->visit([&](const Table& block) {
      const auto& local = block.ints(readings::kRideId);
      for (std::size_t r = 0; r < block.num_rows(); ++r) {
        const auto ride = static_cast<std::size_t>(local[r]);
        const auto q = static_cast<std::size_t>(pass_of_local_[ride]);
        if (q < first_pass || q >= end_pass) continue;
        Table& rows = parts[q]->tail();
        rows.append_row(block, r);
        rows.ints(readings::kRideId).back() = ride_id_of_local_[ride];
        parts[q]->after_append();
      }
    });
    for (std::size_t q = first_pass; q < end_pass; ++q) parts[q]->close();
  };
  std::size_t first_held = 0;  // the pass's first ride held here (an index into readings_of_ride)
  for (std::size_t q = 0; q < passes; ++q) {
    Table rows;
    job_.time(kWrite, [&] {
      on_every_rank([&] {
        if (!parts[q]) route_wave(q);
        rows = parts[q]->all_rows();
        parts[q]->discard();
      });
    });
    parts[q].reset();
    std::vector<int> destination(rows.num_rows());
    for (std::size_t r = 0; r < rows.num_rows(); ++r) destination[r] = holder(rows.ints(readings::kRideId)[r]);
    const Table arrived = exchange(rows, destination, kWrite);
    rows = Table();
    std::size_t end_held = first_held;
    while (end_held < pass_of_held_.size() && pass_of_held_[end_held] == static_cast<std::int64_t>(q)) ++end_held;
    const Table placed = job_.time(kWrite, [&] {
      return place_by_ride(arrived,
                           std::span<const std::int64_t>(readings_of_ride).subspan(first_held, end_held - first_held),
                           first_ride_id_ + static_cast<std::int64_t>(first_held));
    });
    // The pass's rides' offsets; the last pass also takes the last rank's closing total.
    Table offsets(ride_offset.schema());
    const std::size_t end_offsets = q + 1 == passes ? ride_offset.num_rows() : end_held;
    for (std::size_t i = first_held; i < end_offsets; ++i) offsets.append_row(ride_offset, i);
    job_.time(kWrite, [&] { zone->append(placed, {&offsets}); });
    first_held = end_held;
    const std::vector<std::int64_t> figures = comm_.allreduce_sum(
        std::vector<std::int64_t>{static_cast<std::int64_t>(placed.num_rows()), scratch_->bytes_spilled()});
    job_.progress().line("readings pass " + std::to_string(q + 1) + " of " + std::to_string(passes) + ": " +
                         std::to_string(figures[0]) + " readings; " + format_bytes(figures[1]) + " spilled so far");
    fault_point("readings_pass", comm_);
  }
  on_every_rank([&] { spilled_readings_->discard(); });
  job_.finish_zone("readings", *zone, pipeline_attributes(), kWrite);
}

// 5a. Riders: one row per user_id with a ride; the details of its latest ride start (the largest
//     ride id, as ride ids follow start times).
void DelotonJob::build_riders() {
  namespace rc = riders;
  Table mine(ride::schema());
  std::vector<int> destination;
  for (std::size_t i = 0; i < rides_.num_rows(); ++i) {
    const std::int64_t user = rides_.ints(ride::kUserId)[i];
    if (user == kNullInt64) continue;
    mine.append_row(rides_, i);
    // The ride id rides along in the origin-index column, which is no longer needed.
    mine.ints(ride::kOriginIndex).back() = first_ride_id_ + static_cast<std::int64_t>(i);
    destination.push_back(partition_for(hash_int64(user), comm_.size()));
  }
  const Table by_user = exchange(mine, destination, kBuild);
  Table riders(riders_schema());
  std::int64_t changed = 0;
  job_.time(kBuild, [&] {
    std::vector<std::size_t> order(by_user.num_rows());
    std::iota(order.begin(), order.end(), 0);
    const auto& users = by_user.ints(ride::kUserId);
    const auto& ride_ids = by_user.ints(ride::kOriginIndex);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return users[a] != users[b] ? users[a] < users[b] : ride_ids[a] < ride_ids[b];
    });
    // The user JSON's fields as given, for "details changed between rides".
    const auto same_details = [&](std::size_t a, std::size_t b) {
      for (const std::size_t c :
           {ride::kNameRaw, ride::kGender, ride::kAddressRaw, ride::kEmail, ride::kBikeSerial, ride::kOriginalSource})
        if (by_user.strings(c)[a] != by_user.strings(c)[b]) return false;
      for (const std::size_t c : {ride::kDateOfBirthMs, ride::kAccountMs, ride::kHeightCm, ride::kWeightKg})
        if (by_user.ints(c)[a] != by_user.ints(c)[b]) return false;
      return true;
    };
    const auto date_text = [](std::int64_t days) { return days == kNullInt64 ? std::string() : format_date(days); };
    for (std::size_t i = 0; i < order.size();) {
      const std::size_t first = order[i];
      std::size_t last = first;
      std::int64_t count = 0, first_start = 0, last_start = 0;
      bool differs = false;
      for (; i < order.size() && users[order[i]] == users[first]; ++i) {
        const std::size_t r = order[i];
        const std::int64_t start = by_user.ints(ride::kStartTime)[r];
        first_start = count == 0 ? start : std::min(first_start, start);
        last_start = count == 0 ? start : std::max(last_start, start);
        if (!same_details(first, r)) differs = true;
        ++count;
        last = r;
      }
      if (differs) ++changed;
      riders.ints(rc::kUserId).push_back(users[last]);
      riders.strings(rc::kTitle).push_back(by_user.strings(ride::kTitle)[last]);
      riders.strings(rc::kFirstName).push_back(by_user.strings(ride::kFirstName)[last]);
      riders.strings(rc::kLastName).push_back(by_user.strings(ride::kLastName)[last]);
      // The class the rules read, not the text as written (DELOTON.md: anything else is other).
      riders.strings(rc::kGender).push_back(gender_name(normalise_gender(by_user.strings(ride::kGender)[last])));
      riders.strings(rc::kDateOfBirth).push_back(date_text(by_user.ints(ride::kDateOfBirthDays)[last]));
      riders.ints(rc::kHeightCm).push_back(by_user.ints(ride::kHeightCm)[last]);
      riders.ints(rc::kWeightKg).push_back(by_user.ints(ride::kWeightKg)[last]);
      riders.strings(rc::kEmail).push_back(by_user.strings(ride::kEmail)[last]);
      riders.strings(rc::kAddressStreet).push_back(by_user.strings(ride::kStreet)[last]);
      riders.strings(rc::kAddressTown).push_back(by_user.strings(ride::kTown)[last]);
      riders.strings(rc::kAddressPostcode).push_back(by_user.strings(ride::kPostcode)[last]);
      riders.strings(rc::kAccountCreated).push_back(date_text(by_user.ints(ride::kAccountDays)[last]));
      riders.strings(rc::kBikeSerial).push_back(by_user.strings(ride::kBikeSerial)[last]);
      riders.strings(rc::kOriginalSource).push_back(by_user.strings(ride::kOriginalSource)[last]);
      riders.ints(rc::kRides).push_back(count);
      riders.ints(rc::kFirstRideStart).push_back(first_start);
      riders.ints(rc::kLastRideStart).push_back(last_start);
      riders.commit_row();
      rider_attributes_.ints(0).push_back(users[last]);
      rider_attributes_.ints(1).push_back(
          static_cast<std::int64_t>(normalise_gender(by_user.strings(ride::kGender)[last])));
      rider_attributes_.ints(2).push_back(by_user.ints(ride::kDateOfBirthDays)[last]);
      rider_attributes_.commit_row();
    }
  });
  summary_.quality.riders_with_changed_details = comm_.allreduce_sum(changed);
  const std::vector<std::size_t> by_id = {rc::kUserId};
  riders_zone_ = job_.time(
      kBuild, [&] { return sort_globally(comm_, riders, by_id, options_.job.exchange, &job_.exchange_stats()); });
}

// 5b. Daily figures: a ride and all its readings count on the UTC date of its start. The rides of a
//     day meet on hash(date) and are summed in ride-id order; rider genders and age bands come from
//     the riders zone (every rank holds that small table).
void DelotonJob::build_daily() {
  const Table attributes = job_.time(kBuild, [&] { return replicate_rows(comm_, rider_attributes_); });
  rider_attributes_ = Table();
  Table per_ride({{"day", ColumnType::Int64},
                  {"ride_id", ColumnType::Int64},
                  {"duration_s", ColumnType::Float64},
                  {"power_sum", ColumnType::Float64},
                  {"readings", ColumnType::Int64},
                  {"hr_sum_high", ColumnType::Int64},
                  {"hr_sum_low", ColumnType::Int64},
                  {"hr_count", ColumnType::Int64},
                  {"alert", ColumnType::Int64},
                  {"user_id", ColumnType::Int64}});
  std::vector<int> destination;
  for (std::size_t i = 0; i < rides_.num_rows(); ++i) {
    const std::int64_t day = days_from_epoch_us(rides_.ints(ride::kStartTime)[i]);
    per_ride.ints(0).push_back(day);
    per_ride.ints(1).push_back(first_ride_id_ + static_cast<std::int64_t>(i));
    per_ride.floats(2).push_back(rides_.floats(ride::kDurationS)[i]);
    per_ride.floats(3).push_back(rides_.floats(ride::kPowerSum)[i]);
    per_ride.ints(4).push_back(rides_.ints(ride::kReadings)[i]);
    per_ride.ints(5).push_back(rides_.ints(ride::kHeartRateSumHigh)[i]);
    per_ride.ints(6).push_back(rides_.ints(ride::kHeartRateSumLow)[i]);
    per_ride.ints(7).push_back(rides_.ints(ride::kHeartRateCount)[i]);
    per_ride.ints(8).push_back(rides_.ints(ride::kAlert)[i]);
    per_ride.ints(9).push_back(rides_.ints(ride::kUserId)[i]);
    per_ride.commit_row();
    destination.push_back(partition_for(hash_int64(day), comm_.size()));
  }
  const Table by_day = exchange(per_ride, destination, kBuild);
  Table days = Table({{"day", ColumnType::Int64}});
  Table figures(daily_schema());
  job_.time(kBuild, [&] {
    std::unordered_map<std::int64_t, std::pair<Gender, std::int64_t>> rider;  // user -> gender, birth (days)
    for (std::size_t i = 0; i < attributes.num_rows(); ++i)
      rider[attributes.ints(0)[i]] = {static_cast<Gender>(attributes.ints(1)[i]), attributes.ints(2)[i]};
    std::vector<std::size_t> order(by_day.num_rows());
    std::iota(order.begin(), order.end(), 0);
    const auto& day_of = by_day.ints(0);
    const auto& ride_ids = by_day.ints(1);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return day_of[a] != day_of[b] ? day_of[a] < day_of[b] : ride_ids[a] < ride_ids[b];
    });
    for (std::size_t i = 0; i < order.size();) {
      const std::int64_t day = day_of[order[i]];
      std::int64_t ride_count = 0, readings = 0, hr_count = 0, alerts = 0;
      Wide hr_sum = 0;
      double duration = 0, power = 0;
      double duration_by[3] = {0, 0, 0};
      std::unordered_set<std::int64_t> riders;
      for (; i < order.size() && day_of[order[i]] == day; ++i) {
        const std::size_t r = order[i];
        ++ride_count;
        duration += by_day.floats(2)[r];
        power += by_day.floats(3)[r];
        readings += by_day.ints(4)[r];
        hr_sum += wide_of(by_day.ints(5)[r], by_day.ints(6)[r]);
        hr_count += by_day.ints(7)[r];
        alerts += by_day.ints(8)[r];
        const std::int64_t user = by_day.ints(9)[r];
        if (user == kNullInt64) continue;
        riders.insert(user);
        duration_by[static_cast<std::size_t>(rider.at(user).first)] += by_day.floats(2)[r];
      }
      std::int64_t riders_by[3] = {0, 0, 0};
      std::int64_t bands[7] = {0, 0, 0, 0, 0, 0, 0};
      for (const std::int64_t user : riders) {
        const auto& [gender, birth] = rider.at(user);
        ++riders_by[static_cast<std::size_t>(gender)];
        if (birth != kNullInt64) ++bands[age_band(age_on(birth * kMillisPerDay, day * kMicrosPerDay))];
      }
      days.ints(0).push_back(day);
      days.commit_row();
      figures.strings(daily::kDate).push_back(format_date(day));
      figures.ints(daily::kRides).push_back(ride_count);
      figures.ints(daily::kRiders).push_back(static_cast<std::int64_t>(riders.size()));
      figures.floats(daily::kDurationS).push_back(duration);
      figures.floats(daily::kEnergyKj).push_back(power / 1000.0);
      figures.floats(daily::kPowerAvgW).push_back(readings == 0 ? kNaN : power / static_cast<double>(readings));
      figures.floats(daily::kHeartRateAvg).push_back(exact_average(hr_sum, hr_count));
      figures.ints(daily::kAlerts).push_back(alerts);
      figures.ints(daily::kRidersMale).push_back(riders_by[0]);
      figures.ints(daily::kRidersFemale).push_back(riders_by[1]);
      figures.ints(daily::kRidersOther).push_back(riders_by[2]);
      figures.floats(daily::kDurationSMale).push_back(duration_by[0]);
      figures.floats(daily::kDurationSFemale).push_back(duration_by[1]);
      figures.floats(daily::kDurationSOther).push_back(duration_by[2]);
      for (std::size_t b = 0; b < 7; ++b) figures.ints(daily::kRidersAgeFirst + b).push_back(bands[b]);
      figures.commit_row();
    }
  });
  // Sorted by date: the date string sorts like the day, so it is the key.
  const std::vector<std::size_t> by_date = {daily::kDate};
  daily_zone_ = job_.time(
      kBuild, [&] { return sort_globally(comm_, figures, by_date, options_.job.exchange, &job_.exchange_stats()); });
}

// Data quality: bikes whose lines reached the ride logic in more than one stream. The distinct
// (bike, stream) pairs meet on hash(bike).
void DelotonJob::count_bikes_in_several_streams() {
  Table pairs({{"bike", ColumnType::String}, {"stream", ColumnType::Int64}});
  for (const std::string& key : key_texts_) {
    pairs.strings(0).push_back(std::string_view(key).substr(4));
    pairs.ints(1).push_back(stream_of_key(key));
    pairs.commit_row();
  }
  const Table by_bike = exchange(
      pairs,
      partition_rows(pairs.num_rows(), comm_.size(), [&](std::size_t r) { return hash_bytes(pairs.strings(0)[r]); }),
      kRides);
  std::int64_t several = 0;
  {
    std::map<std::string_view, std::int64_t> first_stream;
    std::unordered_set<std::string_view> counted;
    for (std::size_t r = 0; r < by_bike.num_rows(); ++r) {
      const auto bike = by_bike.strings(0)[r];
      const auto [it, added] = first_stream.emplace(bike, by_bike.ints(1)[r]);
      if (!added && it->second != by_bike.ints(1)[r] && counted.insert(bike).second) ++several;
    }
  }
  summary_.quality.bikes_in_several_streams = comm_.allreduce_sum(several);
}

// The quarantine: lines rejected while parsing are in already; those rejected later get their raw
// text read back from the file (a few hundred bytes each; rejects are rare).
void DelotonJob::write_quarantine() {
  job_.time(kWrite, [&] {
    std::string raw(Quarantine::kRawPrefixBytes, '\0');
    for (const LateReject& reject : late_rejects_) {
      const SourceFiles& source = streams_[reject.stream];
      const LandingFile& file = source.files[static_cast<std::size_t>(reject.position >> kOffsetBits)];
      const std::int64_t offset = reject.position & kOffsetMask;
      std::size_t length = 0;
      if (const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
        const ssize_t got = ::pread(fd, raw.data(), raw.size(), offset);
        ::close(fd);
        if (got > 0) length = static_cast<std::size_t>(got);
      }
      const std::string_view text(raw.data(), length);
      quarantine_.add(source.source, file.path, offset, reason_name(reject.reason), text.substr(0, text.find('\n')));
    }
  });
  late_rejects_ = {};
  summary_.quarantined = job_.write_quarantine(quarantine_, pipeline_attributes(), kWrite);
}

}  // namespace

RunSummary run_deloton(const Comm& comm, const RunOptions& options) {
  return DelotonJob(comm, options).run();
}

}  // namespace mpilake::deloton
