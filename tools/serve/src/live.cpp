#include "mpilake/serve/live.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "mpilake/deloton/rider_rules.hpp"
#include "mpilake/deloton/schema.hpp"
#include "mpilake/serve/dates.hpp"
#include "mpilake/serve/views.hpp"

namespace mpilake::serve {

namespace {

namespace R = deloton::rides;
namespace D = deloton::readings;
namespace U = deloton::riders;

constexpr std::int64_t kHour = 3600LL * 1'000'000;
constexpr std::size_t kRecentAlerts = 10;

Json nullable(std::int64_t value) {
  return value == kNullInt64 ? Json(nullptr) : Json(value);
}

// The rider's best ride by one column (NaN and NULL skipped; ties: the earlier ride).
Json best(const Snapshot& s, const std::vector<std::size_t>& rows, std::size_t column) {
  std::int64_t best_row = -1;
  double best_value = 0;
  for (std::size_t row : rows) {
    const double value = s.rides.schema()[column].type == ColumnType::Float64
                             ? s.rides.floats(column)[row]
                             : static_cast<double>(s.rides.ints(column)[row]);
    if (s.rides.schema()[column].type == ColumnType::Int64 && s.rides.ints(column)[row] == kNullInt64) continue;
    if (!std::isfinite(value) || (best_row >= 0 && value <= best_value)) continue;
    best_row = static_cast<std::int64_t>(row);
    best_value = value;
  }
  if (best_row < 0) return nullptr;
  return Json{{"value", cell_json(s.rides, column, static_cast<std::size_t>(best_row))},
              {"ride_id", s.rides.ints(R::kRideId)[static_cast<std::size_t>(best_row)]}};
}

Json current_ride(const Snapshot& s, bool personal) {
  if (s.current_ride_row < 0) return nullptr;
  const auto row = static_cast<std::size_t>(s.current_ride_row);
  Json out = Json::object();
  out["ride"] = ride_json(s, row);
  const std::int64_t user = s.rides.ints(R::kUserId)[row];
  const auto rider = s.rider_row.find(user);
  Json rider_view = nullptr, safe_range = nullptr, bests = nullptr;
  if (user != kNullInt64 && rider != s.rider_row.end()) {
    const std::size_t r = rider->second;
    const std::int64_t ride_day = day_of(s.rides.ints(R::kStartTime)[row]);
    const auto age = rider_age(s, r, ride_day);
    rider_view = Json::object();
    rider_view["user_id"] = user;
    if (personal) rider_view["first_name"] = cell_json(s.riders, U::kFirstName, r);
    rider_view["gender"] = gender_group(s.riders.strings(U::kGender)[r]);  // male / female / other
    rider_view["age_band"] = age ? Json(age_band_name(*age)) : Json(nullptr);
    // The limits give the exact age away (220 - age), so they come with the token only.
    if (personal && age) {
      const auto limits = deloton::heart_rate_limits(*age, deloton::normalise_gender(s.riders.strings(U::kGender)[r]));
      safe_range = Json{{"hr_lower", limits.lower}, {"hr_upper", limits.upper}};
    }
    const auto& rows = s.rides_of_rider.at(user);
    bests = Json::object();
    bests["rides"] = rows.size();
    for (std::size_t column : {R::kDurationS, R::kEnergyKj, R::kPowerAvgW, R::kRpmAvg, R::kHeartRateMax})
      bests[s.rides.schema()[column].name] = best(s, rows, column);
  }
  out["rider"] = rider_view;
  out["safe_range"] = safe_range;
  out["personal_bests"] = bests;
  Json series = Json::object();
  for (std::size_t column : {D::kElapsedS, D::kHeartRate, D::kRpm, D::kPowerW, D::kResistance}) {
    Json values = Json::array();
    for (auto r = s.ride_offset[row]; r < s.ride_offset[row + 1]; ++r)
      values.push_back(cell_json(s.readings, column, static_cast<std::size_t>(r)));
    series[s.readings.schema()[column].name] = std::move(values);
  }
  out["readings"] = std::move(series);
  return out;
}

Json last_hours(const Snapshot& s, bool personal) {
  Json out = Json::object();
  if (s.latest_time == kNullInt64) return nullptr;
  const std::int64_t to = s.latest_time, from = to - kLiveWindowMicros;
  const auto& starts = s.rides.ints(R::kStartTime);
  const auto first = static_cast<std::size_t>(std::lower_bound(starts.begin(), starts.end(), from) - starts.begin());
  const std::size_t last = s.rides.num_rows();
  std::set<std::int64_t> riders;
  std::int64_t readings = 0, alerts = 0;
  double power_sum = 0;
  struct Hour {
    std::int64_t rides = 0, readings = 0, alerts = 0;
    double power_sum = 0;
  };
  std::array<Hour, 12> hours{};
  for (std::size_t row = first; row < last; ++row) {
    Hour& hour = hours[static_cast<std::size_t>(std::min<std::int64_t>(11, (starts[row] - from) / kHour))];
    ++hour.rides;
    if (s.rides.ints(R::kUserId)[row] != kNullInt64) riders.insert(s.rides.ints(R::kUserId)[row]);
    const bool alert = s.rides.ints(R::kAlert)[row] == 1;
    alerts += alert;
    hour.alerts += alert;
    double ride_sum = 0;
    for (auto r = s.ride_offset[row]; r < s.ride_offset[row + 1]; ++r)
      ride_sum += s.readings.floats(D::kPowerW)[static_cast<std::size_t>(r)];
    const std::int64_t count = s.ride_offset[row + 1] - s.ride_offset[row];
    readings += count;
    hour.readings += count;
    power_sum += ride_sum;
    hour.power_sum += ride_sum;
  }
  Json by_gender = {{"male", 0}, {"female", 0}, {"other", 0}};
  Json by_band = Json::object();
  for (const auto band : deloton::kAgeBandNames) by_band[std::string(band)] = 0;
  by_band["unknown"] = 0;
  const std::int64_t today = day_of(to);
  for (std::int64_t user : riders) {
    const auto it = s.rider_row.find(user);
    if (it == s.rider_row.end()) continue;
    by_gender[gender_group(s.riders.strings(U::kGender)[it->second])] =
        by_gender[gender_group(s.riders.strings(U::kGender)[it->second])].get<std::int64_t>() + 1;
    const auto age = rider_age(s, it->second, today);
    const std::string band = age ? age_band_name(*age) : "unknown";
    by_band[band] = by_band[band].get<std::int64_t>() + 1;
  }
  out["from"] = from;
  out["to"] = to;
  out["rides"] = last - first;
  out["riders"] = riders.size();
  out["readings"] = readings;
  out["riders_by_gender"] = by_gender;
  out["riders_by_age_band"] = by_band;
  out["energy_kj"] = power_sum / 1000;
  out["power_avg_w"] = readings > 0 ? Json(power_sum / static_cast<double>(readings)) : Json(nullptr);
  out["alerts"] = alerts;
  Json hour_list = Json::array();
  for (std::size_t h = 0; h < hours.size(); ++h)
    hour_list.push_back(
        {{"start", from + static_cast<std::int64_t>(h) * kHour},
         {"rides", hours[h].rides},
         {"alerts", hours[h].alerts},
         {"power_avg_w",
          hours[h].readings > 0 ? Json(hours[h].power_sum / static_cast<double>(hours[h].readings)) : Json(nullptr)}});
  out["hours"] = std::move(hour_list);
  const auto [alert_first, alert_last] = s.alerts_of_rides(first, last);
  Json recent = Json::array();
  for (std::size_t a = alert_last; a > alert_first && recent.size() < kRecentAlerts; --a)
    recent.push_back(alert_json(s, a - 1, personal));
  out["recent_alerts"] = std::move(recent);
  return out;
}

}  // namespace

std::string render_live(const Snapshot& s, bool personal) {
  Json out = Json::object();
  out["run_id"] = s.run_id;
  out["created_utc"] = s.created_utc;
  out["loaded_utc"] = s.loaded_utc;
  out["latest_time"] = nullable(s.latest_time);
  out["personal"] = personal;
  out["current_ride"] = current_ride(s, personal);
  out["last_12_hours"] = last_hours(s, personal);
  return dump_json(out);
}

}  // namespace mpilake::serve
