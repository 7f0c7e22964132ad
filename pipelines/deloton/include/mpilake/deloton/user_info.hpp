#pragma once
// The user JSON of a ride start (`[SYSTEM] data = {...}`), read by the rules of
// docs/deloton-decisions.md "User JSON". Ride starts are rare, so this copies and owns its strings.
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mpilake/table/table.hpp"

namespace mpilake::deloton {

inline constexpr std::string_view kBadUserJson = "bad_user_json";

// NULL is std::nullopt for strings and kNullInt64 (INT64_MIN) for integers.
struct UserInfo {
  // The text is one JSON object with a JSON integer user_id in int64 (not INT64_MIN). When false the
  // ride start is bad_user_json, its ride has an unknown rider, and every field below is NULL.
  bool valid = false;
  std::int64_t user_id = kNullInt64;
  std::optional<std::string> name;
  std::optional<std::string> gender;  // as written; see normalise_gender
  std::optional<std::string> address;
  std::optional<std::string> email;  // key email_address
  std::optional<std::string> bike_serial;
  std::optional<std::string> original_source;
  std::int64_t date_of_birth_ms = kNullInt64;   // key date_of_birth, epoch ms (negative before 1970)
  std::int64_t account_create_ms = kNullInt64;  // key account_create_date, epoch ms
  std::int64_t height_cm = kNullInt64;
  std::int64_t weight_kg = kNullInt64;
  // How many of the string fields above held a NUL character, each replaced by U+FFFD (see
  // replace_nul): summary.json's data_quality.user_strings_with_nul.
  std::int64_t strings_with_nul = 0;
};

class UserInfoParser {
 public:
  // Never fails: text that is not one JSON object (leading and trailing JSON whitespace allowed,
  // anything else after it not), or an object without a usable user_id, gives valid == false.
  // The first occurrence of a key counts; later ones must still be valid JSON. String fields take a
  // JSON string ("" is NULL; each NUL character becomes U+FFFD); integer fields a JSON integer (no fraction, no
  // exponent: 170.0 is NULL) fitting int64 other than INT64_MIN; any other value is NULL.
  UserInfo parse(std::string_view json);

 private:
  simdjson::ondemand::parser parser_;
  std::string padded_;  // the text and simdjson's padding, reused
};

}  // namespace mpilake::deloton
