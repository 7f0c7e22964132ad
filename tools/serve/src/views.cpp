#include "mpilake/serve/views.hpp"

#include <cmath>

#include "mpilake/deloton/rider_rules.hpp"
#include "mpilake/deloton/schema.hpp"
#include "mpilake/serve/dates.hpp"

namespace mpilake::serve {

namespace {

// Personal columns of the riders and alerts zones (DELOTON.md: names, email, address, birth date).
bool personal_rider_column(const std::string& name) {
  return name == "title" || name == "first_name" || name == "last_name" || name == "date_of_birth" || name == "email" ||
         name.starts_with("address_");
}

bool personal_alert_column(const std::string& name) {
  return name == "email" || name == "first_name" || name == "age" || name == "hr_lower" || name == "hr_upper";
}

}  // namespace

std::string dump_json(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json cell_json(const Table& table, std::size_t column, std::size_t row) {
  switch (table.schema()[column].type) {
    case ColumnType::Int64: {
      const std::int64_t value = table.ints(column)[row];
      return value == kNullInt64 ? Json(nullptr) : Json(value);
    }
    case ColumnType::Float64: {
      const double value = table.floats(column)[row];
      return std::isfinite(value) ? Json(value) : Json(nullptr);
    }
    case ColumnType::String: {
      const std::string_view value = table.strings(column)[row];
      return value.empty() ? Json(nullptr) : Json(std::string(value));
    }
  }
  return nullptr;
}

Json row_json(const Table& table, std::size_t row) {
  Json object = Json::object();
  for (std::size_t c = 0; c < table.num_columns(); ++c) object[table.schema()[c].name] = cell_json(table, c, row);
  return object;
}

Json ride_json(const Snapshot& s, std::size_t row) {
  return row_json(s.rides, row);
}

Json readings_json(const Snapshot& s, std::size_t ride_row) {
  Json list = Json::array();
  for (auto r = s.ride_offset[ride_row]; r < s.ride_offset[ride_row + 1]; ++r)
    list.push_back(row_json(s.readings, static_cast<std::size_t>(r)));
  return list;
}

Json daily_json(const Snapshot& s, std::size_t row) {
  return row_json(s.daily, row);
}

std::optional<std::int64_t> rider_age(const Snapshot& s, std::size_t rider_row, std::int64_t day) {
  const auto birth = parse_date(s.riders.strings(deloton::riders::kDateOfBirth)[rider_row]);
  if (!birth) return std::nullopt;
  return full_years(*birth, day);
}

std::string age_band_name(std::int64_t age) {
  return std::string(deloton::kAgeBandNames[deloton::age_band(age)]);
}

std::string gender_group(std::string_view gender) {
  return std::string(deloton::gender_name(deloton::normalise_gender(gender)));
}

Json rider_json(const Snapshot& s, std::size_t row, bool personal) {
  Json object = Json::object();
  // (a plain int64, not the optional: g++ 12 warns falsely about the optional here)
  const std::int64_t age =
      s.latest_time == kNullInt64 ? kNullInt64 : rider_age(s, row, day_of(s.latest_time)).value_or(kNullInt64);
  for (std::size_t c = 0; c < s.riders.num_columns(); ++c) {
    const std::string& name = s.riders.schema()[c].name;
    if (!personal && personal_rider_column(name)) continue;
    object[name] = cell_json(s.riders, c, row);
    if (name == "gender") {
      // The class (male / female / other), also from zones written before riders.gender held it.
      object[name] = gender_group(s.riders.strings(c)[row]);
      // Exact age only with the token; the band (on the run's latest date) for everyone.
      if (personal) object["age"] = age != kNullInt64 ? Json(age) : Json(nullptr);
      object["age_band"] = age != kNullInt64 ? Json(age_band_name(age)) : Json(nullptr);
    }
  }
  return object;
}

Json alert_json(const Snapshot& s, std::size_t row, bool personal) {
  Json object = Json::object();
  for (std::size_t c = 0; c < s.alerts.num_columns(); ++c) {
    const std::string& name = s.alerts.schema()[c].name;
    if (!personal && personal_alert_column(name)) continue;
    object[name] = cell_json(s.alerts, c, row);
  }
  const std::int64_t age = s.alerts.ints(deloton::alerts::kAge)[row];  // at the ride's start
  object["age_band"] = age == kNullInt64 ? Json(nullptr) : Json(age_band_name(age));
  return object;
}

}  // namespace mpilake::serve
