#pragma once
// Deloton's zones and their columns (../shared/DELOTON.md "Output zones"), the quarantine reasons
// (docs/deloton-decisions.md) and the per-stream accounting.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mpilake/table/table.hpp"

namespace mpilake::deloton {

inline const std::string kTopic = "deloton";  // the landing sub-folder holding the streams
inline const std::vector<std::string> kZones = {"riders", "rides", "readings", "heart_rate_alerts", "daily"};

namespace riders {
enum : std::size_t {
  kUserId,
  kTitle,
  kFirstName,
  kLastName,
  kGender,
  kDateOfBirth,
  kHeightCm,
  kWeightKg,
  kEmail,
  kAddressStreet,
  kAddressTown,
  kAddressPostcode,
  kAccountCreated,
  kBikeSerial,
  kOriginalSource,
  kRides,
  kFirstRideStart,
  kLastRideStart
};
}
namespace rides {
enum : std::size_t {
  kRideId,
  kStream,
  kBike,
  kUserId,
  kStartTime,
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
  kAlert
};
}
namespace readings {
enum : std::size_t { kRideId, kTime, kElapsedS, kResistance, kHeartRate, kRpm, kPowerW };
}
namespace alerts {
enum : std::size_t {
  kRideId,
  kUserId,
  kBike,
  kAlertTime,
  kKind,
  kHeartRate,
  kHrLower,
  kHrUpper,
  kAge,
  kGender,
  kEmail,
  kFirstName
};
}
namespace daily {
enum : std::size_t {
  kDate,
  kRides,
  kRiders,
  kDurationS,
  kEnergyKj,
  kPowerAvgW,
  kHeartRateAvg,
  kAlerts,
  kRidersMale,
  kRidersFemale,
  kRidersOther,
  kDurationSMale,
  kDurationSFemale,
  kDurationSOther,
  kRidersAgeFirst  // then 7 age bands
};
}

Schema riders_schema();
Schema rides_schema();
Schema readings_schema();
Schema alerts_schema();
Schema daily_schema();

// Why a line is quarantined; the names are the `reason` strings of the quarantine.
enum class Reason : std::uint8_t {
  bad_record,
  unknown_shape,
  bad_timestamp,
  bad_number,
  negative_value,
  bad_user_json,
  ride_line_without_telemetry,
  telemetry_without_ride_line,
  orphan_line,
};
inline constexpr std::size_t kReasonCount = 9;
std::string_view reason_name(Reason reason);

// One stream's accounting: lines = blank + markers + accepted + duplicates + quarantined.
struct StreamStats {
  std::int64_t files = 0, bytes = 0;
  std::int64_t lines = 0, blank = 0, markers = 0, accepted = 0, duplicates = 0, quarantined = 0;
  std::array<std::int64_t, kReasonCount> by_reason{};
  void quarantine(Reason reason) {
    ++quarantined;
    ++by_reason[static_cast<std::size_t>(reason)];
  }
};

}  // namespace mpilake::deloton
