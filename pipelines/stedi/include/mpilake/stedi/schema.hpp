#pragma once
// The STEDI landing sources, their columns, the zones and the rule sets (DESIGN.md).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpilake/json/record_schema.hpp"

namespace mpilake::stedi {

enum class Rules { Privacy, Serial, Rubric };
std::optional<Rules> parse_rules(std::string_view text);
std::string_view rules_name(Rules rules);

// Column positions in the landing tables.
namespace customer {
enum : std::size_t {
  kCustomerName,
  kEmail,
  kPhone,
  kBirthDay,
  kSerialNumber,
  kRegistrationDate,
  kLastUpdateDate,
  kShareWithResearchAsOfDate,
  kShareWithPublicAsOfDate,
  kShareWithFriendsAsOfDate
};
}
namespace accelerometer {
enum : std::size_t { kUser, kTimestamp, kX, kY, kZ };
}
namespace step_trainer {
enum : std::size_t { kSensorReadingTime, kSerialNumber, kDistanceFromObject };
}

RecordSchema customer_schema();
RecordSchema accelerometer_schema();
RecordSchema step_trainer_schema();

inline const std::vector<std::string> kSources = {"customer", "accelerometer", "step_trainer"};
inline const std::vector<std::string> kZones = {"customer_trusted", "accelerometer_trusted", "customer_curated",
                                                "step_trainer_trusted", "machine_learning_curated"};

Schema machine_learning_schema();

}  // namespace mpilake::stedi
