#include "mpilake/deloton/user_info.hpp"

#include <charconv>
#include <system_error>

#include "mpilake/deloton/log_line.hpp"
#include "mpilake/deloton/log_record.hpp"
#include "mpilake/deloton/rider_rules.hpp"

namespace mpilake::deloton {

namespace od = simdjson::ondemand;

namespace {

enum class Field : int {
  user_id,
  name,
  gender,
  address,
  email,
  bike_serial,
  original_source,
  date_of_birth,
  account_create,
  height_cm,
  weight_kg,
  unknown,
};

Field field_for_key(std::string_view key) {
  struct Entry {
    std::string_view key;
    Field field;
  };
  static constexpr Entry kKeys[] = {
      {"user_id", Field::user_id},
      {"name", Field::name},
      {"gender", Field::gender},
      {"address", Field::address},
      {"email_address", Field::email},
      {"bike_serial", Field::bike_serial},
      {"original_source", Field::original_source},
      {"date_of_birth", Field::date_of_birth},
      {"account_create_date", Field::account_create},
      {"height_cm", Field::height_cm},
      {"weight_kg", Field::weight_kg},
  };
  for (const Entry& entry : kKeys)
    if (entry.key == key) return entry.field;
  return Field::unknown;
}

std::optional<std::string>* string_slot(UserInfo& info, Field field) {
  switch (field) {
    case Field::name: return &info.name;
    case Field::gender: return &info.gender;
    case Field::address: return &info.address;
    case Field::email: return &info.email;
    case Field::bike_serial: return &info.bike_serial;
    case Field::original_source: return &info.original_source;
    default: return nullptr;
  }
}

std::int64_t* integer_slot(UserInfo& info, Field field) {
  switch (field) {
    case Field::user_id: return &info.user_id;
    case Field::date_of_birth: return &info.date_of_birth_ms;
    case Field::account_create: return &info.account_create_ms;
    case Field::height_cm: return &info.height_cm;
    case Field::weight_kg: return &info.weight_kg;
    default: return nullptr;
  }
}

// Reads a value for an integer field: a JSON integer fitting int64 (INT64_MIN is NULL's spelling,
// so it is NULL too); any other valid JSON leaves the slot NULL. False when the value is not JSON.
bool read_integer(od::value value, std::int64_t& slot) {
  od::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) return false;
  if (type != od::json_type::number) return validate_json_value(value, 1) == simdjson::SUCCESS;
  // By the token, not simdjson's number parsing: it reads -0 and 1e2 differently from JSON's
  // integer grammar, and refuses valid numbers beyond 64 bits.
  const std::string_view token = trim_json_token(value.raw_json_token());
  if (!is_json_number(token)) return false;
  std::int64_t parsed = 0;
  if (!is_json_integer(token)) return true;
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), parsed);
  if (error == std::errc() && end == token.data() + token.size() && parsed != kNullInt64) slot = parsed;
  return true;
}

// Reads a value for a string field: a JSON string, "" being NULL; any other valid JSON is NULL. A NUL
// character becomes U+FFFD and counts in `with_nul` (the zones' fixed-length strings would cut it).
bool read_string(od::value value, std::optional<std::string>& slot, std::int64_t& with_nul) {
  od::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) return false;
  if (type != od::json_type::string) return validate_json_value(value, 1) == simdjson::SUCCESS;
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return false;
  if (text.empty()) return true;
  slot.emplace(text);
  if (replace_nul(*slot)) ++with_nul;
  return true;
}

}  // namespace

UserInfo UserInfoParser::parse(std::string_view json) {
  padded_.assign(json);
  padded_.append(simdjson::SIMDJSON_PADDING, '\0');
  UserInfo info;
  od::document document;
  if (parser_.iterate(padded_.data(), json.size(), padded_.size()).get(document) != simdjson::SUCCESS) return {};
  od::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) return {};
  unsigned seen = 0;  // bit per Field: the first occurrence of a key counts
  for (auto field_result : object) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return {};
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return {};
    const Field which = field_for_key(key);
    const unsigned bit = 1u << static_cast<int>(which);
    if (which == Field::unknown || (seen & bit) != 0) {
      if (validate_json_value(field.value(), 1) != simdjson::SUCCESS) return {};
      continue;
    }
    seen |= bit;
    bool ok = false;
    if (std::int64_t* integer = integer_slot(info, which)) {
      ok = read_integer(field.value(), *integer);
    } else {
      ok = read_string(field.value(), *string_slot(info, which), info.strings_with_nul);
    }
    if (!ok) return {};
  }
  const char* trailing = nullptr;
  if (document.current_location().get(trailing) == simdjson::SUCCESS) return {};
  if (info.user_id == kNullInt64) return {};
  info.valid = true;
  return info;
}

}  // namespace mpilake::deloton
