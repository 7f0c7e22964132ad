#pragma once
// The JSON of each kind of row, with the zones' column names as field names (NULL -> null) and the
// privacy rule applied: without `personal`, no name, email, address, birth date or exact age (an age
// band instead), and no heart-rate limits (they give the exact age away).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "mpilake/serve/snapshot.hpp"

namespace mpilake::serve {

using Json = nlohmann::ordered_json;

// Compact JSON text; invalid UTF-8 is replaced, never thrown on.
std::string dump_json(const Json& json);

// One cell: int64 NULL, NaN and "" become null.
Json cell_json(const Table& table, std::size_t column, std::size_t row);
// Every column of `row`, in the zone's order.
Json row_json(const Table& table, std::size_t row);

Json ride_json(const Snapshot& s, std::size_t row);
Json readings_json(const Snapshot& s, std::size_t ride_row);  // the ride's readings, in order
Json daily_json(const Snapshot& s, std::size_t row);
Json rider_json(const Snapshot& s, std::size_t row, bool personal);
Json alert_json(const Snapshot& s, std::size_t row, bool personal);

// Age and band of a rider on `day` (from the riders zone's date_of_birth); nullopt without one.
std::optional<std::int64_t> rider_age(const Snapshot& s, std::size_t rider_row, std::int64_t day);
// "under_18", "18_24", ... "65_plus" (the daily zone's column suffixes).
std::string age_band_name(std::int64_t age);
// "male", "female" or "other" as the daily zone counts them.
std::string gender_group(std::string_view gender);

}  // namespace mpilake::serve
