#include "mpilake/stedi/schema.hpp"

namespace mpilake::stedi {

std::optional<Rules> parse_rules(std::string_view text) {
  if (text == "privacy") return Rules::Privacy;
  if (text == "serial") return Rules::Serial;
  if (text == "rubric") return Rules::Rubric;
  return std::nullopt;
}

std::string_view rules_name(Rules rules) {
  switch (rules) {
    case Rules::Privacy: return "privacy";
    case Rules::Serial: return "serial";
    case Rules::Rubric: return "rubric";
  }
  return "?";
}

namespace {
// Spells out every member of FieldSpec (keeps -Wextra's missing-initializer check quiet).
FieldSpec field(std::string name, ColumnType type, bool required, std::vector<std::string> aliases = {},
                bool accepts_number = false) {
  return FieldSpec{std::move(name), type, required, std::move(aliases), accepts_number};
}
}  // namespace

RecordSchema customer_schema() {
  return {
      "customer",
      {field("customerName", ColumnType::String, false), field("email", ColumnType::String, true),
       field("phone", ColumnType::String, false, {}, true), field("birthDay", ColumnType::String, false),
       field("serialNumber", ColumnType::String, true), field("registrationDate", ColumnType::Int64, false),
       field("lastUpdateDate", ColumnType::Int64, false), field("shareWithResearchAsOfDate", ColumnType::Int64, false),
       field("shareWithPublicAsOfDate", ColumnType::Int64, false),
       field("shareWithFriendsAsOfDate", ColumnType::Int64, false)}};
}

RecordSchema accelerometer_schema() {
  return {"accelerometer",
          {field("user", ColumnType::String, true), field("timestamp", ColumnType::Int64, true, {"timeStamp"}),
           field("x", ColumnType::Float64, true), field("y", ColumnType::Float64, true),
           field("z", ColumnType::Float64, true)}};
}

RecordSchema step_trainer_schema() {
  return {"step_trainer",
          {field("sensorReadingTime", ColumnType::Int64, true), field("serialNumber", ColumnType::String, true),
           field("distanceFromObject", ColumnType::Int64, true)}};
}

Schema machine_learning_schema() {
  return {{"sensorReadingTime", ColumnType::Int64},
          {"serialNumber", ColumnType::String},
          {"distanceFromObject", ColumnType::Int64},
          {"user", ColumnType::String},
          {"timestamp", ColumnType::Int64},
          {"x", ColumnType::Float64},
          {"y", ColumnType::Float64},
          {"z", ColumnType::Float64}};
}

}  // namespace mpilake::stedi
