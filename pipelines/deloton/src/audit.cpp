// `mpilake audit --pipeline deloton` (see audit.hpp): a separate, simple, single-process path.
#include "mpilake/deloton/audit.hpp"

#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "mpilake/deloton/log_line.hpp"
#include "mpilake/deloton/log_record.hpp"
#include "mpilake/deloton/rider_rules.hpp"
#include "mpilake/deloton/schema.hpp"
#include "mpilake/deloton/user_info.hpp"
#include "mpilake/io/landing.hpp"
#include "mpilake/io/line_reader.hpp"

namespace mpilake::deloton {

namespace {

namespace fs = std::filesystem;
using job::Findings;
using job::json_quoted;

std::string int_text(std::int64_t value) {
  return value == kNullInt64 ? std::string("NULL") : std::to_string(value);
}
std::string float_text(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}
bool same_float(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

// What the landing says about one ride start.
struct Start {
  UserInfo user;
  bool has_birth = false;
  HeartRateLimits limits;
  std::int64_t age = 0;
  Gender gender = Gender::other;
};

// What one ride should be, from its readings and its start; filled while walking the zones.
struct RideCheck {
  const Start* start = nullptr;
  std::int64_t start_time = 0, user_id = kNullInt64, readings_zone = 0, alert_flag = 0;
  std::string bike;
  // From readings.
  std::int64_t readings = 0, end_time = kNullInt64, hr_min = kNullInt64, hr_max = kNullInt64, hr_count = 0;
  double duration = 0, power_sum = 0;
  __int128 hr_sum = 0, rpm_sum = 0, resistance_sum = 0;
  int run = 0;
  bool alert = false;
  std::int64_t alert_time = 0, alert_heart_rate = 0;
  bool alert_high = false;
  bool alert_row_seen = false;
  // As the rides zone has them.
  double zone_duration = 0, zone_hr_avg = 0, zone_rpm_avg = 0, zone_res_avg = 0, zone_power_avg = 0, zone_energy = 0;
  std::int64_t zone_end_time = 0, zone_hr_min = 0, zone_hr_max = 0;
};

double average(__int128 sum, std::int64_t count) {
  return count == 0 ? std::nan("") : static_cast<double>(sum) / static_cast<double>(count);
}

class Auditor {
 public:
  Auditor(const AuditOptions& options, job::AuditReport& report)
      : options_(options), report_(report), findings_(report, std::max<std::int64_t>(options.max_report, 0)) {}
  void run();

 private:
  void read_summary();
  void read_landing();
  void rides();
  void readings();
  void alerts();
  void riders();
  void daily();
  void compare_rides();
  // A finding when `text` is a rider's name, email or address (privacy of the public zones).
  void check_not_personal(std::string_view text, std::vector<std::string>& problems) const {
    if (!text.empty() && personal_.contains(std::string(text)))
      problems.push_back("personal data (a rider's name, email or address) in a public zone");
  }

  const AuditOptions& options_;
  job::AuditReport& report_;
  Findings findings_;
  std::optional<std::map<std::string, std::int64_t>> summary_rows_;
  std::optional<job::ZoneAuditor> zones_;
  std::vector<std::string> stream_names_;
  // (stream, bike, start time) -> the ride starts there that start a ride, in stream order.
  std::map<std::tuple<std::string, std::string, std::int64_t>, std::vector<Start>> starts_;
  std::unordered_set<std::string> personal_;
  std::vector<RideCheck> rides_;
  std::vector<std::int64_t> ride_offset_;
};

void Auditor::read_summary() {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  const fs::path path = options_.out / "summary.json";
  if (auto error = parser.load(path.string()).get(root)) {
    findings_.add("summary", -1, "summary.json missing or unreadable", json_quoted(simdjson::error_message(error)));
    return;
  }
  std::string_view pipeline;
  if (root["pipeline"].get(pipeline) != simdjson::SUCCESS || pipeline != "deloton")
    findings_.add("summary", -1, "summary.json is not a Deloton run's", "pipeline=" + json_quoted(pipeline));
  std::map<std::string, std::int64_t> rows;
  simdjson::dom::object zones;
  if (root["zones"].get(zones) == simdjson::SUCCESS)
    for (auto field : zones) {
      std::int64_t count = 0;
      if (field.value["rows"].get(count) == simdjson::SUCCESS) rows[std::string(field.key)] = count;
    }
  summary_rows_ = rows;
  simdjson::dom::object streams;
  if (root["streams"].get(streams) == simdjson::SUCCESS)
    for (auto field : streams) {
      std::int64_t n[6] = {-1, -1, -1, -1, -1, -1};
      const char* keys[6] = {"lines", "blank", "markers", "accepted", "duplicates", "quarantined"};
      for (int i = 0; i < 6; ++i)
        if (field.value[keys[i]].get(n[i]) != simdjson::SUCCESS) n[i] = -1;
      if (n[0] < 0 || n[0] != n[1] + n[2] + n[3] + n[4] + n[5])
        findings_.add("summary", -1, "lines != blank + markers + accepted + duplicates + quarantined",
                      "stream=" + json_quoted(field.key));
    }
}

// Ride starts of the landing, with the duplicate rule (a start at its bike's previous start time).
void Auditor::read_landing() {
  const Comm self(MPI_COMM_SELF);
  const auto streams = discover_streams(self, options_.landing, kTopic);
  LogRecordParser records;
  UserInfoParser users;
  std::string log;
  std::vector<Line> lines;
  for (const auto& stream : streams) {
    const std::string name = stream.source.substr(kTopic.size() + 1);
    stream_names_.push_back(name);
    std::unordered_map<std::string, std::int64_t> previous_start;
    for (const auto& file : stream.files) {
      LineReader reader(file.path, file.bytes, 0, file.bytes, std::size_t{4} << 20, simdjson::SIMDJSON_PADDING);
      while (reader.next(lines)) {
        for (const Line& line : lines) {
          if (!records.parse(reader.data() + line.start, line.length, reader.capacity_from(line.start), log)) continue;
          LogLine parsed;
          if (parse_log_line(log, parsed) != LineProblem::none || parsed.kind != LineKind::ride_start) continue;
          const std::string bike(parsed.bike);
          const auto [it, first] = previous_start.try_emplace(bike, parsed.timestamp_us);
          if (!first && it->second == parsed.timestamp_us) continue;  // a re-sent start
          it->second = parsed.timestamp_us;
          Start start;
          start.user = users.parse(parsed.user_json);
          for (const auto* text : {&start.user.name, &start.user.email, &start.user.address})
            if (*text && !(*text)->empty()) personal_.insert(**text);
          if (start.user.valid && date_days_in_range(start.user.date_of_birth_ms) != kNullInt64) {
            start.has_birth = true;
            start.age = age_on(start.user.date_of_birth_ms, parsed.timestamp_us);
            start.gender = normalise_gender(start.user.gender ? *start.user.gender : std::string());
            start.limits = heart_rate_limits(start.age, start.gender);
          }
          std::string written = bike;  // as the zones write it (a NUL is U+FFFD there)
          replace_nul(written);
          starts_[{name, std::move(written), parsed.timestamp_us}].push_back(std::move(start));
        }
      }
    }
  }
}

void Auditor::rides() {
  zones_->check_datasets("rides", rides_schema());
  std::map<std::tuple<std::string, std::string, std::int64_t>, std::size_t> used;
  zones_->walk("rides", rides_schema(), [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
    RideCheck ride;
    const std::int64_t id = t.ints(rides::kRideId)[r];
    if (id != static_cast<std::int64_t>(rides_.size()) + 1)
      problems.push_back("ride ids are not 1, 2, 3, ... in row order");
    const std::string stream(t.strings(rides::kStream)[r]);
    ride.bike = std::string(t.strings(rides::kBike)[r]);
    ride.start_time = t.ints(rides::kStartTime)[r];
    check_not_personal(stream, problems);
    check_not_personal(ride.bike, problems);
    const auto key = std::make_tuple(stream, ride.bike, ride.start_time);
    const auto found = starts_.find(key);
    std::size_t& next = used[key];
    if (found == starts_.end() || next >= found->second.size()) {
      problems.push_back("no ride start of this stream, bike and time in the landing");
    } else {
      ride.start = &found->second[next++];
      const std::int64_t expected = ride.start->user.valid ? ride.start->user.user_id : kNullInt64;
      if (t.ints(rides::kUserId)[r] != expected)
        problems.push_back("user_id differs from the ride start's user JSON (" + int_text(expected) + ")");
    }
    ride.user_id = t.ints(rides::kUserId)[r];
    ride.readings_zone = t.ints(rides::kReadings)[r];
    ride.alert_flag = t.ints(rides::kAlert)[r];
    ride.zone_end_time = t.ints(rides::kEndTime)[r];
    ride.zone_duration = t.floats(rides::kDurationS)[r];
    ride.zone_hr_min = t.ints(rides::kHeartRateMin)[r];
    ride.zone_hr_max = t.ints(rides::kHeartRateMax)[r];
    ride.zone_hr_avg = t.floats(rides::kHeartRateAvg)[r];
    ride.zone_rpm_avg = t.floats(rides::kRpmAvg)[r];
    ride.zone_res_avg = t.floats(rides::kResistanceAvg)[r];
    ride.zone_power_avg = t.floats(rides::kPowerAvgW)[r];
    ride.zone_energy = t.floats(rides::kEnergyKj)[r];
    std::string values = "ride_id=" + std::to_string(id) + " stream=" + json_quoted(stream) +
                         " bike=" + json_quoted(ride.bike) + " start_time=" + int_text(ride.start_time);
    rides_.push_back(std::move(ride));
    return values;
  });
}

void Auditor::readings() {
  zones_->check_datasets("readings", readings_schema(), {"ride_offset"});
  // ride_offset: rides + 1 values, from 0, never decreasing.
  try {
    ZoneChunkReader offsets(options_.out / "readings.h5", {"ride_offset"});
    Table chunk;
    while (offsets.next(chunk, 1 << 20))
      for (const std::int64_t value : chunk.ints(0)) ride_offset_.push_back(value);
  } catch (const std::exception& e) {
    findings_.add("readings", -1, "ride_offset unreadable", json_quoted(e.what()));
  }
  if (ride_offset_.size() != rides_.size() + 1 || (!ride_offset_.empty() && ride_offset_[0] != 0)) {
    findings_.add("readings", -1, "ride_offset does not have rides + 1 values starting at 0",
                  "values=" + std::to_string(ride_offset_.size()) + " rides=" + std::to_string(rides_.size()));
    ride_offset_.clear();
  }
  for (std::size_t k = 1; k < ride_offset_.size(); ++k) {
    if (ride_offset_[k] < ride_offset_[k - 1]) findings_.add("readings", -1, "ride_offset decreases");
    if (ride_offset_[k] - ride_offset_[k - 1] != rides_[k - 1].readings_zone)
      findings_.add("readings", -1, "ride_offset and rides.readings disagree",
                    "ride_id=" + std::to_string(k) +
                        " ride_offset=" + std::to_string(ride_offset_[k] - ride_offset_[k - 1]) +
                        " rides.readings=" + std::to_string(rides_[k - 1].readings_zone));
  }
  std::int64_t row = 0;
  zones_->walk("readings", readings_schema(), [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
    const std::int64_t id = t.ints(readings::kRideId)[r];
    const std::int64_t here = row++;
    const std::string values = "ride_id=" + std::to_string(id) + " time=" + int_text(t.ints(readings::kTime)[r]);
    if (id < 1 || id > static_cast<std::int64_t>(rides_.size())) {
      problems.push_back("no such ride");
      return values;
    }
    if (!ride_offset_.empty() &&
        (here < ride_offset_[static_cast<std::size_t>(id - 1)] || here >= ride_offset_[static_cast<std::size_t>(id)]))
      problems.push_back("row outside its ride's ride_offset range");
    RideCheck& ride = rides_[static_cast<std::size_t>(id - 1)];
    const std::int64_t time = t.ints(readings::kTime)[r];
    const double elapsed = t.floats(readings::kElapsedS)[r];
    const std::int64_t hr = t.ints(readings::kHeartRate)[r];
    if (hr == 0) problems.push_back("heart_rate 0 is stored as NULL");
    if (ride.readings == 0 || elapsed > ride.duration) ride.duration = elapsed;
    ride.end_time = ride.readings == 0 ? time : std::max(ride.end_time, time);
    ++ride.readings;
    ride.rpm_sum += t.ints(readings::kRpm)[r];
    ride.resistance_sum += t.ints(readings::kResistance)[r];
    ride.power_sum += t.floats(readings::kPowerW)[r];
    if (hr != kNullInt64) {
      ride.hr_min = ride.hr_count == 0 ? hr : std::min(ride.hr_min, hr);
      ride.hr_max = ride.hr_count == 0 ? hr : std::max(ride.hr_max, hr);
      ride.hr_sum += hr;
      ++ride.hr_count;
    }
    if (ride.start != nullptr && ride.start->has_birth && !ride.alert) {
      const auto& limits = ride.start->limits;
      if (hr != kNullInt64 && (hr < limits.lower || hr > limits.upper)) {
        if (++ride.run == 3) {
          ride.alert = true;
          ride.alert_time = time;
          ride.alert_heart_rate = hr;
          ride.alert_high = hr > limits.upper;
        }
      } else {
        ride.run = 0;
      }
    }
    return values;
  });
}

void Auditor::alerts() {
  zones_->walk(
      "heart_rate_alerts", alerts_schema(), [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
        const std::int64_t id = t.ints(alerts::kRideId)[r];
        const std::string values =
            "ride_id=" + std::to_string(id) + " alert_time=" + int_text(t.ints(alerts::kAlertTime)[r]);
        if (id < 1 || id > static_cast<std::int64_t>(rides_.size())) {
          problems.push_back("no such ride");
          return values;
        }
        RideCheck& ride = rides_[static_cast<std::size_t>(id - 1)];
        if (ride.alert_row_seen) problems.push_back("a second alert for the ride");
        ride.alert_row_seen = true;
        if (!ride.alert) {
          problems.push_back("not justified: no run of 3 abnormal readings under the rider's limits");
          return values;
        }
        const Start& start = *ride.start;
        if (t.ints(alerts::kAlertTime)[r] != ride.alert_time || t.ints(alerts::kHeartRate)[r] != ride.alert_heart_rate)
          problems.push_back("not at the third reading of the first abnormal run (" + int_text(ride.alert_time) + ", " +
                             int_text(ride.alert_heart_rate) + ")");
        if (t.strings(alerts::kKind)[r] != (ride.alert_high ? "high" : "low")) problems.push_back("wrong kind");
        if (t.ints(alerts::kHrLower)[r] != start.limits.lower || t.ints(alerts::kHrUpper)[r] != start.limits.upper)
          problems.push_back("limits differ from the rider's (" + std::to_string(start.limits.lower) + ", " +
                             std::to_string(start.limits.upper) + ")");
        if (t.ints(alerts::kAge)[r] != start.age) problems.push_back("age differs (" + std::to_string(start.age) + ")");
        if (t.strings(alerts::kGender)[r] != gender_name(start.gender)) problems.push_back("gender differs");
        if (t.ints(alerts::kUserId)[r] != start.user.user_id) problems.push_back("user_id differs");
        if (t.strings(alerts::kBike)[r] != ride.bike) problems.push_back("bike differs");
        if (t.strings(alerts::kEmail)[r] != (start.user.email ? *start.user.email : std::string()))
          problems.push_back("email differs from the ride start's");
        if (t.strings(alerts::kFirstName)[r] !=
            split_name(start.user.name ? *start.user.name : std::string()).first_name)
          problems.push_back("first_name differs from the ride start's");
        return values;
      });
}

void Auditor::compare_rides() {
  for (std::size_t i = 0; i < rides_.size(); ++i) {
    const RideCheck& ride = rides_[i];
    std::vector<std::string> problems;
    if (ride.readings != ride.readings_zone)
      problems.push_back("rides.readings " + std::to_string(ride.readings_zone) + " but " +
                         std::to_string(ride.readings) + " rows in readings");
    if (ride.alert != (ride.alert_flag == 1))
      problems.push_back(ride.alert ? "a run of 3 abnormal readings but alert = 0"
                                    : "alert = 1 without a justifying run");
    if (ride.alert && !ride.alert_row_seen) problems.push_back("no heart_rate_alerts row for its abnormal run");
    if (ride.end_time != ride.zone_end_time) problems.push_back("end_time differs from its readings");
    if (!same_float(ride.readings == 0 ? 0.0 : ride.duration, ride.zone_duration))
      problems.push_back("duration_s differs from its readings");
    if (ride.hr_min != ride.zone_hr_min || ride.hr_max != ride.zone_hr_max)
      problems.push_back("heart_rate_min/max differ from its readings");
    if (!same_float(average(ride.hr_sum, ride.hr_count), ride.zone_hr_avg))
      problems.push_back("heart_rate_avg differs from its readings");
    if (!same_float(average(ride.rpm_sum, ride.readings), ride.zone_rpm_avg) ||
        !same_float(average(ride.resistance_sum, ride.readings), ride.zone_res_avg))
      problems.push_back("rpm_avg / resistance_avg differ from its readings");
    const double power_avg = ride.readings == 0 ? std::nan("") : ride.power_sum / static_cast<double>(ride.readings);
    if (!same_float(power_avg, ride.zone_power_avg) || !same_float(ride.power_sum / 1000.0, ride.zone_energy))
      problems.push_back("power_avg_w / energy_kj differ from its readings (" + float_text(ride.power_sum) +
                         " W in all)");
    if (problems.empty()) continue;
    std::string rule;
    for (const auto& problem : problems) rule += (rule.empty() ? "" : "; ") + problem;
    findings_.add("rides", static_cast<std::int64_t>(i), rule, "ride_id=" + std::to_string(i + 1));
  }
}

void Auditor::riders() {
  std::map<std::int64_t, std::tuple<std::int64_t, std::int64_t, std::int64_t>> expected;  // rides, first, last
  for (const auto& ride : rides_) {
    if (ride.user_id == kNullInt64) continue;
    auto [it, added] = expected.try_emplace(ride.user_id, 0, ride.start_time, ride.start_time);
    auto& [count, first, last] = it->second;
    ++count;
    first = std::min(first, ride.start_time);
    last = std::max(last, ride.start_time);
  }
  std::int64_t previous = kNullInt64;
  std::set<std::int64_t> seen;
  zones_->walk("riders", riders_schema(), [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
    const std::int64_t user = t.ints(riders::kUserId)[r];
    if (previous != kNullInt64 && user <= previous) problems.push_back("not sorted by user_id, or repeated");
    previous = user;
    seen.insert(user);
    const std::string_view gender = t.strings(riders::kGender)[r];
    if (gender != "male" && gender != "female" && gender != "other")
      problems.push_back("gender is not male/female/other");
    const auto it = expected.find(user);
    if (it == expected.end()) {
      problems.push_back("a rider without rides");
    } else {
      const auto& [count, first, last] = it->second;
      if (t.ints(riders::kRides)[r] != count) problems.push_back("rides differs (" + std::to_string(count) + ")");
      if (t.ints(riders::kFirstRideStart)[r] != first || t.ints(riders::kLastRideStart)[r] != last)
        problems.push_back("first/last ride start differ from the rides zone");
    }
    return "user_id=" + int_text(user);
  });
  for (const auto& [user, figures] : expected)
    if (!seen.contains(user))
      findings_.add("riders", -1, "a rider of the rides zone is missing", "user_id=" + int_text(user));
}

void Auditor::daily() {
  zones_->check_datasets("daily", daily_schema());
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> expected;  // date -> rides, alerts
  for (const auto& ride : rides_) {
    auto& [count, alerts] = expected[format_date(days_from_epoch_us(ride.start_time))];
    ++count;
    alerts += ride.alert_flag;
  }
  std::set<std::string> seen;
  zones_->walk("daily", daily_schema(), [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
    const std::string date(t.strings(daily::kDate)[r]);
    if (!seen.empty() && date <= *seen.rbegin()) problems.push_back("not sorted by date, or repeated");
    seen.insert(date);
    const auto it = expected.find(date);
    if (it == expected.end())
      problems.push_back("a day without rides");
    else if (t.ints(daily::kRides)[r] != it->second.first || t.ints(daily::kAlerts)[r] != it->second.second)
      problems.push_back("rides / alerts differ from the rides zone (" + std::to_string(it->second.first) + ", " +
                         std::to_string(it->second.second) + ")");
    return "date=" + json_quoted(date);
  });
  for (const auto& [date, figures] : expected)
    if (!seen.contains(date))
      findings_.add("daily", -1, "a day of the rides zone is missing", "date=" + json_quoted(date));
}

void Auditor::run() {
  std::error_code ec;
  if (!fs::is_directory(options_.out, ec))
    throw std::runtime_error("output folder '" + options_.out.string() + "' does not exist or is not a folder");
  report_.rules = "deloton";
  read_summary();
  zones_.emplace(options_.out, report_, findings_, options_.chunk_rows, summary_rows_);
  for (const auto& zone : kZones) {
    const auto pipeline = zones_->meta(zone).text("pipeline");
    if (zones_->meta(zone).present && pipeline != "deloton")
      findings_.add(zone, -1, "`pipeline` attribute is not deloton");
  }
  read_landing();
  rides();
  readings();
  alerts();
  compare_rides();
  riders();
  daily();
}

}  // namespace

job::AuditReport run_audit(const Comm& comm, const AuditOptions& options) {
  return job::audit_on_root(comm, [&](job::AuditReport& report) { Auditor(options, report).run(); });
}

}  // namespace mpilake::deloton
