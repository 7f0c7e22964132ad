#include "mpilake/deloton/schema.hpp"

namespace mpilake::deloton {

namespace {
constexpr ColumnType I = ColumnType::Int64;
constexpr ColumnType F = ColumnType::Float64;
constexpr ColumnType S = ColumnType::String;
}  // namespace

Schema riders_schema() {
  return {{"user_id", I},
          {"title", S},
          {"first_name", S},
          {"last_name", S},
          {"gender", S},
          {"date_of_birth", S},
          {"height_cm", I},
          {"weight_kg", I},
          {"email", S},
          {"address_street", S},
          {"address_town", S},
          {"address_postcode", S},
          {"account_created", S},
          {"bike_serial", S},
          {"original_source", S},
          {"rides", I},
          {"first_ride_start", I},
          {"last_ride_start", I}};
}

Schema rides_schema() {
  return {{"ride_id", I},        {"stream", S},         {"bike", S},           {"user_id", I},
          {"start_time", I},     {"end_time", I},       {"duration_s", F},     {"readings", I},
          {"heart_rate_min", I}, {"heart_rate_max", I}, {"heart_rate_avg", F}, {"rpm_avg", F},
          {"resistance_avg", F}, {"power_avg_w", F},    {"energy_kj", F},      {"alert", I}};
}

Schema readings_schema() {
  return {{"ride_id", I},    {"time", I}, {"elapsed_s", F}, {"resistance", I},
          {"heart_rate", I}, {"rpm", I},  {"power_w", F}};
}

Schema alerts_schema() {
  return {{"ride_id", I},  {"user_id", I},  {"bike", S}, {"alert_time", I}, {"kind", S},  {"heart_rate", I},
          {"hr_lower", I}, {"hr_upper", I}, {"age", I},  {"gender", S},     {"email", S}, {"first_name", S}};
}

Schema daily_schema() {
  Schema schema = {{"date", S},
                   {"rides", I},
                   {"riders", I},
                   {"duration_s", F},
                   {"energy_kj", F},
                   {"power_avg_w", F},
                   {"heart_rate_avg", F},
                   {"alerts", I},
                   {"riders_male", I},
                   {"riders_female", I},
                   {"riders_other", I},
                   {"duration_s_male", F},
                   {"duration_s_female", F},
                   {"duration_s_other", F}};
  for (const char* band : {"under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus"})
    schema.push_back({std::string("riders_age_") + band, I});
  return schema;
}

std::string_view reason_name(Reason reason) {
  switch (reason) {
    case Reason::bad_record: return "bad_record";
    case Reason::unknown_shape: return "unknown_shape";
    case Reason::bad_timestamp: return "bad_timestamp";
    case Reason::bad_number: return "bad_number";
    case Reason::negative_value: return "negative_value";
    case Reason::bad_user_json: return "bad_user_json";
    case Reason::ride_line_without_telemetry: return "ride_line_without_telemetry";
    case Reason::telemetry_without_ride_line: return "telemetry_without_ride_line";
    case Reason::orphan_line: return "orphan_line";
  }
  return "unknown";
}

}  // namespace mpilake::deloton
